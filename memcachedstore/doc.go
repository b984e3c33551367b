// Package memcachedstore keeps sessions in Memcached, through
// github.com/bradfitz/gomemcache. It lives in its own module so that the
// session library's go.mod stays small.
//
//	mc := memcache.New("127.0.0.1:11211")
//	m, err := session.New(session.Config{Store: memcachedstore.New(mc)})
//
// Two stores share one layout. [Store] (New) is a [session.Store],
// [session.Rotator] and [session.UserIndex], so "your devices",
// log-out-everywhere and Config.MaxSessionsPerUser work: a read-only
// request costs one round trip for an anonymous session and two for a
// logged-in one (it reads the user's item, and a renewed session's family
// anchor, in one more multi-get); a write two and four. A renewed
// anonymous session reads its family's anchor instead: two and four.
// [UnindexedStore] (NewUnindexed) leaves the index out: one round trip per
// read and two per write for a session never renewed, two and four for a
// renewed one (its anchor), without devices or log-out-everywhere.
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
//   - Renewal ([session.Rotator]) adds the new record with "add" and then
//     turns the old one into its tombstone with cas (see Store.Rotate and
//     UnindexedStore.Rotate): one
//     winner among renewals of an ID, and a logout that lands first wins.
//   - Ended sessions leave a [session.Tombstone] for their Meta.Linger, so an
//     expired or just-renewed ID is not mistaken for a forged one, unless
//     Memcached evicts the tombstone first (the ID then reads as unknown).
//     Losing a renewal's tombstone never keeps the session out of reach:
//     the session's family (Rotator.Family, EndFamily) is found through its
//     anchor, not through tombstones.
//   - Families (session.Rotator's Family and EndFamily) fail closed. A
//     renewed session (one whose Meta.Family is not its own key: after a
//     login, a renewal, or a header session from its first record) is live
//     only while its family's anchor, one small item, exists and names its
//     key. If Memcached evicts the anchor, the session is logged out: it is
//     never left live where ending its family could not reach it (a reused
//     refresh token, a logout after a renewal). Family and EndFamily take a
//     few round trips however many renewals the family had. EndFamily marks
//     the anchor ended before it ends the record, and a renewal names its
//     new key in the anchor last (cas, or add for a family never renewed),
//     so a renewal racing EndFamily either is ended by it or fails with
//     ErrNotFound. A session never renewed needs no anchor. The anchor
//     lives at least as long as the record can (its absolute timeout and
//     linger, at least WithMaxSessionLifetime, extended by a write that
//     makes the record live longer).
//   - Expiry follows Meta.Expires to the nanosecond (checked on every read);
//     the item's own expiration is rounded up to Memcached's whole seconds,
//     sent as an absolute Unix time beyond Memcached's 30-day limit for
//     relative ones.
//   - Keys are the prefix and a SHA-256 of the session key: legal and within
//     250 bytes whatever the prefix. A session larger than one item (1 MB by
//     default, WithMaxItemSize) is refused with ErrTooLarge.
//   - Store's index fails closed: a session is live only while its user's
//     item exists and holds the random generation the session was created
//     under. Log-out-everywhere replaces the generation; an evicted user's
//     item logs that user out on every device; a new item after an eviction
//     has a new generation. No eviction can make a revoked session live
//     again, and the per-user cap is decided by a cas of the user's item.
//
// # What does not
//
//   - Memcached may evict any item under memory pressure, long before its
//     timeouts: the session's user is then logged out (on Store, an evicted
//     user's item logs the user out everywhere). Size the memory for
//     the live sessions, or use Redis or SQL when being logged out early is
//     not acceptable.
//   - [UnindexedStore] keeps no per-user index: with it, Manager.Sessions,
//     Revoke, RevokeUser and RevokeOthers return session.ErrNoIndex and
//     session.New refuses Config.MaxSessionsPerUser. Use Store (or Redis,
//     or SQL).
//   - A renewal is not one atomic step either: if the process dies
//     between its retirement of the old ID and its naming of the new one
//     in the family's anchor, the session is ended (logged out), never
//     live twice.
//   - Store's index is not one atomic step with the sessions: if the
//     process dies in the middle of a login at the cap, the sessions it chose
//     to evict can stay live (but unlisted) until they expire or the user is
//     logged out everywhere.
//   - Calls take a context but gomemcache does not: the context is checked
//     before every round trip, and a round trip in flight is bounded by the
//     client's Timeout.
package memcachedstore
