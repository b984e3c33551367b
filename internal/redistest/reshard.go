package redistest

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Owner returns the index in Servers of the master that owns slot.
func (c *Cluster) Owner(ctx context.Context, slot int) (int, error) {
	n := redis.NewClient(&redis.Options{Addr: c.Addrs[0]})
	defer n.Close()
	shards, err := n.ClusterShards(ctx).Result()
	if err != nil {
		return -1, fmt.Errorf("redistest: cluster shards: %w", err)
	}
	for _, sh := range shards {
		for _, r := range sh.Slots {
			if slot < int(r.Start) || slot > int(r.End) {
				continue
			}
			for _, node := range sh.Nodes {
				if node.Role != "master" {
					continue
				}
				for i, a := range c.Addrs {
					if a == net.JoinHostPort(node.IP, strconv.FormatInt(node.Port, 10)) {
						return i, nil
					}
				}
			}
		}
	}
	return -1, fmt.Errorf("redistest: no master owns slot %d", slot)
}

// MoveSlot migrates slot, with its keys, to master to, the way redis-cli
// --cluster reshard does while clients keep running: the target IMPORTING,
// the source MIGRATING, the keys moved with MIGRATE in batches (clients are
// sent ASK or TRYAGAIN meanwhile), then every master told the new owner.
// It also finishes a move that BeginMove started.
func (c *Cluster) MoveSlot(ctx context.Context, slot, to int) error {
	from, err := c.Owner(ctx, slot)
	if err != nil || from == to {
		return err
	}
	mv, err := c.begin(ctx, slot, from, to)
	if err != nil {
		return err
	}
	defer mv.close()
	for {
		keys, err := mv.src.ClusterGetKeysInSlot(ctx, slot, 10).Result()
		if err != nil {
			return fmt.Errorf("redistest: getkeysinslot: %w", err)
		}
		if len(keys) == 0 {
			break
		}
		if err := mv.migrate(ctx, keys); err != nil {
			return err
		}
	}
	return c.finish(ctx, slot, from, to, mv.dstID)
}

// BeginMove starts moving slot to master to and migrates only keys (each in
// slot), leaving the slot half moved: the target IMPORTING, the source
// MIGRATING, the slot's other keys still on the source. A command whose
// keys are now split between the two gets TRYAGAIN until MoveSlot
// finishes the move.
func (c *Cluster) BeginMove(ctx context.Context, slot, to int, keys ...string) error {
	from, err := c.Owner(ctx, slot)
	if err != nil {
		return err
	}
	if from == to {
		return fmt.Errorf("redistest: slot %d is on master %d already", slot, to)
	}
	mv, err := c.begin(ctx, slot, from, to)
	if err != nil {
		return err
	}
	defer mv.close()
	return mv.migrate(ctx, keys)
}

// move is a slot move under way: clients of its source and target.
type move struct {
	src, dst *redis.Client
	dstID    string
	host     string
	port     int
}

func (mv *move) close() { _ = mv.src.Close(); _ = mv.dst.Close() }

// migrate moves keys from the source to the target with one MIGRATE.
func (mv *move) migrate(ctx context.Context, keys []string) error {
	args := []any{"migrate", mv.host, mv.port, "", 0, 5000, "keys"}
	for _, k := range keys {
		args = append(args, k)
	}
	if err := mv.src.Do(ctx, args...).Err(); err != nil {
		return fmt.Errorf("redistest: migrate: %w", err)
	}
	return nil
}

// begin marks slot IMPORTING on master to and MIGRATING on master from.
func (c *Cluster) begin(ctx context.Context, slot, from, to int) (*move, error) {
	mv := &move{src: redis.NewClient(&redis.Options{Addr: c.Addrs[from]}), dst: redis.NewClient(&redis.Options{Addr: c.Addrs[to]})}
	srcID, err := mv.src.Do(ctx, "cluster", "myid").Text()
	if err == nil {
		mv.dstID, err = mv.dst.Do(ctx, "cluster", "myid").Text()
	}
	if err != nil {
		mv.close()
		return nil, fmt.Errorf("redistest: myid: %w", err)
	}
	if err := mv.dst.Do(ctx, "cluster", "setslot", slot, "importing", srcID).Err(); err != nil {
		mv.close()
		return nil, fmt.Errorf("redistest: setslot importing: %w", err)
	}
	if err := mv.src.Do(ctx, "cluster", "setslot", slot, "migrating", mv.dstID).Err(); err != nil {
		mv.close()
		return nil, fmt.Errorf("redistest: setslot migrating: %w", err)
	}
	host, port, _ := net.SplitHostPort(c.Addrs[to])
	mv.host = host
	mv.port, _ = strconv.Atoi(port)
	return mv, nil
}

// finish tells every master that master to owns slot.
func (c *Cluster) finish(ctx context.Context, slot, from, to int, dstID string) error {
	// The target first, then the source, then the others (redis-cli's
	// order): the source stops answering for the slot last.
	order := []int{to, from}
	for i := range c.Addrs {
		if i != to && i != from {
			order = append(order, i)
		}
	}
	for _, i := range order {
		n := redis.NewClient(&redis.Options{Addr: c.Addrs[i]})
		err := n.Do(ctx, "cluster", "setslot", slot, "node", dstID).Err()
		_ = n.Close()
		if err != nil {
			return fmt.Errorf("redistest: setslot node on %s: %w", c.Addrs[i], err)
		}
	}
	return c.settle(ctx, slot, to, dstID)
}

// settle waits until every master names master to as the owner of slot,
// telling a master that still names another one again. Moves of the same
// slots milliseconds apart (hundreds a second, far faster than any
// operator's) can leave a master's view reverted by gossip carrying an
// older claim, and clients bounced with MOVED between two masters; a real
// reshard checks the configuration agrees before going on, and so does
// this.
func (c *Cluster) settle(ctx context.Context, slot, to int, dstID string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		agreed := true
		for i, a := range c.Addrs {
			n := redis.NewClient(&redis.Options{Addr: a})
			owner, err := ownerSeenBy(ctx, n, slot)
			if err == nil && owner != c.Addrs[to] {
				agreed = false
				err = n.Do(ctx, "cluster", "setslot", slot, "node", dstID).Err()
			}
			_ = n.Close()
			if err != nil {
				return fmt.Errorf("redistest: settling slot %d on master %d: %w", slot, i, err)
			}
		}
		if agreed {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redistest: masters disagree on the owner of slot %d: %w", slot, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ownerSeenBy returns the address n names as the master of slot.
func ownerSeenBy(ctx context.Context, n *redis.Client, slot int) (string, error) {
	shards, err := n.ClusterShards(ctx).Result()
	if err != nil {
		return "", err
	}
	for _, sh := range shards {
		for _, r := range sh.Slots {
			if int(r.Start) <= slot && slot <= int(r.End) {
				return masterAddr(sh), nil
			}
		}
	}
	return "", nil
}

// slotOwners returns n's view of the cluster: "start-end=master" for each
// slot range, sorted.
func slotOwners(ctx context.Context, n *redis.Client) ([]string, error) {
	shards, err := n.ClusterShards(ctx).Result()
	if err != nil {
		return nil, fmt.Errorf("redistest: cluster shards: %w", err)
	}
	var owners []string
	for _, sh := range shards {
		for _, r := range sh.Slots {
			owners = append(owners, fmt.Sprintf("%d-%d=%s", r.Start, r.End, masterAddr(sh)))
		}
	}
	sort.Strings(owners)
	return owners, nil
}

// masterAddr is the address of a shard's master.
func masterAddr(sh redis.ClusterShard) string {
	for _, node := range sh.Nodes {
		if node.Role == "master" {
			return net.JoinHostPort(node.IP, strconv.FormatInt(node.Port, 10))
		}
	}
	return ""
}

// WaitAgreed waits until every master gives the same owners for every slot
// (CLUSTER SHARDS), as resharding tools check that the configuration
// agrees before calling a reshard done: a client is sent MOVED from one
// master to another while they disagree.
func (c *Cluster) WaitAgreed(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	clients := make([]*redis.Client, len(c.Addrs))
	for i, a := range c.Addrs {
		clients[i] = redis.NewClient(&redis.Options{Addr: a})
		defer clients[i].Close()
	}
	for {
		views := make(map[string]bool)
		for _, n := range clients {
			owners, err := slotOwners(ctx, n)
			if err != nil {
				return err
			}
			views[strings.Join(owners, ",")] = true
		}
		if len(views) == 1 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redistest: masters still disagree on slot owners: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Where reports, for a diagnosis, each master's view of key's slot: the
// owner it names, how many keys it holds in the slot, and whether key is
// among them. A key held by a master that does not own its slot is a write
// the cluster accepted and then orphaned.
func (c *Cluster) Where(ctx context.Context, key string) string {
	var b strings.Builder
	for i, a := range c.Addrs {
		n := redis.NewClient(&redis.Options{Addr: a})
		slot, err := n.ClusterKeySlot(ctx, key).Result()
		if err == nil {
			var owner string
			var count int64
			var keys []string
			owner, err = ownerSeenBy(ctx, n, int(slot))
			if err == nil {
				count, err = n.ClusterCountKeysInSlot(ctx, int(slot)).Result()
			}
			if err == nil {
				keys, err = n.ClusterGetKeysInSlot(ctx, int(slot), 1000).Result()
			}
			fmt.Fprintf(&b, "master %d (%s): slot %d owner %s, %d keys in slot, holds key %v; ", i, a, slot, owner, count, slices.Contains(keys, key))
		}
		if err != nil {
			fmt.Fprintf(&b, "master %d (%s): %v; ", i, a, err)
		}
		_ = n.Close()
	}
	return b.String()
}
