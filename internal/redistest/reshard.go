package redistest

import (
	"context"
	"fmt"
	"net"
	"strconv"

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
func (c *Cluster) MoveSlot(ctx context.Context, slot, to int) error {
	from, err := c.Owner(ctx, slot)
	if err != nil || from == to {
		return err
	}
	src := redis.NewClient(&redis.Options{Addr: c.Addrs[from]})
	defer src.Close()
	dst := redis.NewClient(&redis.Options{Addr: c.Addrs[to]})
	defer dst.Close()
	srcID, err := src.Do(ctx, "cluster", "myid").Text()
	if err != nil {
		return fmt.Errorf("redistest: myid: %w", err)
	}
	dstID, err := dst.Do(ctx, "cluster", "myid").Text()
	if err != nil {
		return fmt.Errorf("redistest: myid: %w", err)
	}
	if err := dst.Do(ctx, "cluster", "setslot", slot, "importing", srcID).Err(); err != nil {
		return fmt.Errorf("redistest: setslot importing: %w", err)
	}
	if err := src.Do(ctx, "cluster", "setslot", slot, "migrating", dstID).Err(); err != nil {
		return fmt.Errorf("redistest: setslot migrating: %w", err)
	}
	host, port, _ := net.SplitHostPort(c.Addrs[to])
	p, _ := strconv.Atoi(port)
	for {
		keys, err := src.ClusterGetKeysInSlot(ctx, slot, 10).Result()
		if err != nil {
			return fmt.Errorf("redistest: getkeysinslot: %w", err)
		}
		if len(keys) == 0 {
			break
		}
		args := []any{"migrate", host, p, "", 0, 5000, "keys"}
		for _, k := range keys {
			args = append(args, k)
		}
		if err := src.Do(ctx, args...).Err(); err != nil {
			return fmt.Errorf("redistest: migrate: %w", err)
		}
	}
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
	return nil
}
