package redisstore

import (
	"embed"
	"strings"

	"github.com/redis/go-redis/v9"
)

// The Lua scripts of Store live in lua/, one file each, and each
// file starts with the comment block that documents its KEYS, ARGV and
// reply. Each script touches the keys of one slot only (a session's hash and
// its tombstone share a hash tag), except where its comment says it derives
// other keys: those run only on a single server or Sentinel, never on a
// Cluster.
//
// The loader drops a file's leading comment block before the script is
// built, so the server receives only code: the comments cost nothing on the
// wire (endAll sends a whole script per session with EVAL), and editing them
// leaves a script's SHA1, which EVALSHA names it by, unchanged. Every script
// but unlock.lua is prefixed with the shared helpers of lib.lua.
//
//go:embed lua/*.lua
var redisLuaFiles embed.FS

var (
	// genScript reads a session's user generation, or its tombstone, for
	// Load (lua/gen.lua).
	genScript = redisScript("gen.lua")
	// updateScript merges a request's delta into a session hash that still
	// exists, for Update (lua/update.lua).
	updateScript = redisScript("update.lua")
	// endScript ends one session, leaving a tombstone, for Delete and
	// RevokeUser (lua/end.lua).
	endScript = redisScript("end.lua")
	// revokeScript bumps a user's generation and empties the index, for
	// RevokeUser (lua/revoke.lua).
	revokeScript = redisScript("revoke.lua")
	// rotateScript is the whole of Rotate on a single server or Sentinel
	// (lua/rotate.lua).
	rotateScript = redisScript("rotate.lua")
	// claimScript is the first step of rotateSharded: read the old record
	// and leave its renewal tombstone (lua/claim.lua).
	claimScript = redisScript("claim.lua")
	// revokeAllScript raises the RevokeAll cutoff, for RevokeAll
	// (lua/revokeall.lua).
	revokeAllScript = redisScript("revokeall.lua")
	// createScript writes a record without a user as a write that ends
	// sessions, for CreateEnding (lua/create.lua).
	createScript = redisScript("create.lua")
	// unlockScript releases lockUser's lock if still owned
	// (lua/unlock.lua).
	unlockScript = redisScript("unlock.lua")
)

// redisScript builds the script of lua/<name>, prefixed with the
// helpers of lib.lua unless it is unlock.lua. A missing file panics when the
// package is initialised, so any test catches it.
func redisScript(name string) *redis.Script {
	src := redisLuaSource(name)
	if name != "unlock.lua" {
		src = redisLuaSource("lib.lua") + src
	}
	return redis.NewScript(src)
}

// redisLuaSource returns the code of lua/<name>: the file without its
// leading comment lines and blank lines, after a newline.
func redisLuaSource(name string) string {
	b, err := redisLuaFiles.ReadFile("lua/" + name)
	if err != nil {
		panic("session: redis script " + name + ": " + err.Error())
	}
	code := string(b)
	for code != "" {
		line, rest, _ := strings.Cut(code, "\n")
		if line != "" && !strings.HasPrefix(line, "--") {
			break
		}
		code = rest
	}
	return "\n" + code
}
