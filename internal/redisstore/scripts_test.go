package redisstore

import (
	"crypto/sha1"
	"encoding/hex"
	"io/fs"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestRedisLuaFiles: every file in lua/ opens with its comment block,
// the loader sends none of it, and each file but lib.lua is one of the
// scripts the store runs (no file left behind by a rename).
func TestRedisLuaFiles(t *testing.T) {
	scripts := map[string]bool{}
	for _, s := range []*redis.Script{genScript, updateScript, endScript, revokeScript, rotateScript, claimScript, revokeAllScript, unlockScript, refreshScript,
		familyScript, endFamilyScript, markFamilyScript, endMemberScript, pointFamilyScript, createScript} {
		scripts[s.Hash()] = true
	}
	names, err := fs.Glob(redisLuaFiles, "lua/*.lua")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != len(scripts)+1 {
		t.Errorf("%d files in lua/ for %d scripts and lib.lua", len(names), len(scripts))
	}
	for _, path := range names {
		name := strings.TrimPrefix(path, "lua/")
		b, _ := redisLuaFiles.ReadFile(path)
		if !strings.HasPrefix(string(b), "-- ") {
			t.Errorf("%s does not open with its comment block", name)
		}
		src := redisLuaSource(name)
		if first, _, _ := strings.Cut(strings.TrimPrefix(src, "\n"), "\n"); first == "" || strings.HasPrefix(first, "--") {
			t.Errorf("%s: the loader kept the comment block: %q", name, first)
		}
		if name == "lib.lua" {
			continue
		}
		sum := sha1.Sum([]byte(redisLuaSource("lib.lua") + src))
		if name == "unlock.lua" {
			sum = sha1.Sum([]byte(src))
		}
		if !scripts[hex.EncodeToString(sum[:])] {
			t.Errorf("%s is not a script the store runs", name)
		}
	}
}
