// Package memcachedstore is a [session.Store] over Memcached, through
// github.com/bradfitz/gomemcache. It lives in its own module so that the
// session library's go.mod stays small.
//
//	mc := memcache.New("127.0.0.1:11211")
//	m, err := session.New(session.Config{Store: memcachedstore.New(mc)})
//
// # What holds
//
//   - A session is one item: its metadata and all its values. Memcached
//     evicts (or loses, on restart) a session whole or not at all, and a
//     session that is gone reads as not found: the user is logged out and
//     gets a fresh anonymous session. A request never gets another user's
//     session or half of its own.
//   - An unreachable server is an error wrapping [session.ErrStore]: the
//     Manager answers it with its error handler (a 5xx), never with an
//     anonymous page, and a write that fails is never reported as done.
//   - No lost updates: a write is a gets/cas merge of only what the request
//     changed, retried when another write landed in between (at most
//     WithMaxRetries times, then ErrContention; never a blind overwrite).
//   - No resurrection: a write to a session that was deleted, renewed,
//     expired or evicted fails its cas and ends the request anonymous.
//   - Renewal ([session.Rotator]) is add-then-cas (see Store.Rotate): one
//     winner among renewals of an ID, and a logout that lands first wins.
//   - Ended sessions leave a [session.Tombstone] for their Meta.Linger, so an
//     expired or just-renewed ID is not mistaken for a forged one, unless
//     Memcached evicts the tombstone first (the ID then reads as unknown).
//   - Expiry follows Meta.Expires to the nanosecond (checked on every read);
//     the item's own expiration is rounded up to Memcached's whole seconds,
//     sent as an absolute Unix time beyond Memcached's 30-day limit for
//     relative ones.
//   - Keys are the prefix and a SHA-256 of the session key: legal and within
//     250 bytes whatever the prefix. A session larger than one item (1 MB by
//     default, WithMaxItemSize) is refused with ErrTooLarge.
//
// # What does not
//
//   - Memcached may evict any session under memory pressure, long before its
//     timeouts: the user is then logged out. Size the memory for the live
//     sessions, or use Redis or SQL when being logged out early is not
//     acceptable.
//   - There is no per-user index ([session.UserIndex]): "your devices"
//     (Manager.Sessions, Revoke), log-out-everywhere (RevokeUser,
//     RevokeOthers) and Config.MaxSessionsPerUser need the Redis or SQL
//     store. An index item can be evicted like any other, and a Store whose
//     log-out-everywhere could silently miss sessions would be worse than
//     none.
//   - Calls take a context but gomemcache does not: the context is checked
//     before every round trip, and a round trip in flight is bounded by the
//     client's Timeout.
package memcachedstore
