package session

import (
	"log/slog"
	"sort"
	"strings"
)

// defaultEventLevels is the slog level of each event kind unless
// [Config.EventLevels] says otherwise: routine anonymous traffic at DEBUG,
// a user's own lifecycle at INFO, what an attacker or a broken client
// produces at WARN, what an operator must fix at ERROR.
var defaultEventLevels = map[string]slog.Level{
	EventCreated:         slog.LevelDebug,
	EventLogin:           slog.LevelInfo,
	EventRenewed:         slog.LevelInfo,
	EventDestroyed:       slog.LevelInfo,
	EventExpiredIdle:     slog.LevelInfo,
	EventExpiredAbsolute: slog.LevelInfo,
	EventRevoked:         slog.LevelInfo,
	EventEvicted:         slog.LevelInfo,
	EventImported:        slog.LevelInfo,
	EventRejected:        slog.LevelWarn,
	EventLoginRefused:    slog.LevelWarn,
	EventCSRFFailure:     slog.LevelWarn,
	EventCrossOrigin:     slog.LevelWarn,
	EventBindingChanged:  slog.LevelWarn,
	EventBruteForce:      slog.LevelWarn,
	EventRefreshReused:   slog.LevelWarn,
	EventImportFailed:    slog.LevelWarn,
	EventStoreError:      slog.LevelError,
	EventCapacity:        slog.LevelError,
	EventUncommitted:     slog.LevelError,
}

// eventLevels merges the configured overrides into the defaults. An
// unknown kind is refused: a misspelt kind would silently keep its default.
func eventLevels(overrides map[string]slog.Level) (map[string]slog.Level, error) {
	levels := make(map[string]slog.Level, len(defaultEventLevels))
	for k, l := range defaultEventLevels {
		levels[k] = l
	}
	var unknown []string
	for k, l := range overrides {
		if _, ok := defaultEventLevels[k]; !ok {
			unknown = append(unknown, k)
			continue
		}
		levels[k] = l
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, invalid("EventLevels names unknown event kinds: %s", strings.Join(unknown, ", "))
	}
	return levels, nil
}

// eventLevel is the level e is logged at; a kind without a level (none
// today) is logged at INFO.
func (m *Manager) eventLevel(kind string) slog.Level {
	if l, ok := m.levels[kind]; ok {
		return l
	}
	return slog.LevelInfo
}
