// Package redisstore is the Redis engine behind session.RedisStore: a
// session store (Store, and the optional UserIndex, Rotator, Fleet and
// Refresher interfaces of package session) backed by Redis through go-redis
// v9. It accepts any redis.UniversalClient: a single node, a Sentinel
// failover client or a Redis Cluster client, unchanged. It imports only
// internal/storekit (the records and errors), go-redis and the standard
// library; the Lua scripts live in lua/, embedded.
//
// # Key layout
//
// With the default prefix "session:" (readable with redis-cli):
//
//	session:{<key>}            HASH   one session; <key> is the SHA-256 of the
//	                                  token (base64url), never the token
//	session:{<key>}:t          STRING its tombstone (see below)
//	session:{<family>}:f       STRING the family's live key (see
//	                                  family.go)
//	session:user:{<user>}      ZSET   the user's sessions: member <key>,
//	                                  score = login + WithMaxSessionLifetime
//	session:gen:{<user>}       STRING the user's revocation generation
//	session:all                STRING the RevokeAll cutoff (unix ms), if any
//
// <user> is the user ID percent-encoded: bytes other than A-Z a-z 0-9 and
// "-._@" become %XX, so a brace or an odd byte in a user ID can neither break
// the hash tag nor collide with another user.
//
// A session hash holds its values in fields "v:<name>" (the codec's bytes)
// and its metadata in plain fields: user, gen, created, seen, auth, exp (unix
// milliseconds, 0 for unset), idle, abs, linger (milliseconds), ua, ip,
// persist (0 or 1), fam (the family, "" for the session's own key).
//
// A tombstone holds no value, user or device: while the session lives,
// "e created seen idle abs exp", kept until exp + linger so that a late
// visitor is told the session expired; once it is renewed, deleted or
// revoked, "r", "d" or "v" and the time (for "r", then the new key and the
// family). It is what Load reports as a Tombstone.
//
// The braces are Redis Cluster hash tags: a session's hash is alone in its
// slot, a user's index and generation share theirs, and no command touches
// keys of two slots.
//
// # Expiry
//
// Every key has a TTL. A session hash expires at Meta.Expires (PEXPIREAT); a
// deadline already past deletes the hash instead of writing it. Its
// tombstone lives Meta.Linger longer. The index expires with its newest
// member; entries whose session is gone are pruned by UserSessions and by
// the next login.
// The generation key exists only once the user has been revoked, and lives
// for at least the longest a session could live (see
// WithMaxSessionLifetime).
//
// # Round trips
//
// Load is one round trip: HGETALL pipelined with a short Lua script that
// reads the user's generation (or, for a missing session, its tombstone).
// Update (a request's commit, the throttled touch included) and Delete are
// one. Rotate (Login, Renew, Reauthenticate, RevokeOthers) is one script:
// the check of the old record, the revocation, the cap, the copy and the
// index in one atomic step. RevokeUser and UserSessions take two or three,
// whatever the number of sessions. Family and EndFamily are one script
// each, whatever the number of renewals.
//
// # Redis Cluster
//
// On a Cluster (detected from the client type, or from the server with
// CLUSTER INFO for a client that wraps one, or set with WithCluster) no
// script touches keys of two slots, and a session, its user's index and
// generation live in different slots. Load is then HGETALL and, for a
// logged-in session, a GET of the generation: two round trips. Rotate is
// several steps that still cannot resurrect an ended session: the old
// record is read and replaced by its tombstone atomically in its slot, the
// new one is created with the old generation, and the renewal fails (the new
// record deleted) if the user's generation moved meanwhile. A renewal under
// session.Config.MaxSessionsPerUser holds a short lock in the user's slot (key
// session:lock:{<user>}, 5 s TTL), so one user's concurrent logins are
// counted one at a time.
package redisstore
