package bench

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// The benchmarks share one private redis-server: the one at
// BENCH_REDIS_ADDR when set (run.sh starts it), or else one started here on
// a free loopback port and stopped by TestMain. Nothing listens beyond
// 127.0.0.1.
var (
	redisOnce sync.Once
	redisAt   string
	redisErr  error
	redisCmd  *exec.Cmd
)

func TestMain(m *testing.M) {
	code := m.Run()
	if redisCmd != nil {
		_ = redisCmd.Process.Kill()
		_ = redisCmd.Wait()
	}
	os.Exit(code)
}

func redisAddr() (string, error) {
	redisOnce.Do(func() {
		if a := os.Getenv("BENCH_REDIS_ADDR"); a != "" {
			redisAt = a
			return
		}
		redisAt, redisCmd, redisErr = startRedis()
	})
	return redisAt, redisErr
}

// startRedis starts redis-server on a free 127.0.0.1 port, without
// persistence, and waits until it accepts connections.
func startRedis() (string, *exec.Cmd, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, errors.New("redis-server not on PATH: Redis benchmarks skipped (apt-get install redis-server)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := l.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	_ = l.Close()
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes")
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	for range 100 {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			_ = c.Close()
			return addr, cmd, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return "", nil, fmt.Errorf("redis-server on %s did not start", addr)
}
