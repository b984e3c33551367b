package migrate

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrUserType is wrapped by an importer's error when the legacy user value
// is of a type the importer cannot turn into a user ID (a string, an
// integer or a [fmt.Stringer]).
var ErrUserType = errors.New("migrate: unsupported user value type")

// userID turns the legacy user value into a user ID. A nil value, or an
// empty string, is an anonymous session.
func userID(v any) (string, error) {
	switch u := v.(type) {
	case nil:
		return "", nil
	case string:
		return u, nil
	case []byte:
		return string(u), nil
	case int:
		return strconv.FormatInt(int64(u), 10), nil
	case int8:
		return strconv.FormatInt(int64(u), 10), nil
	case int16:
		return strconv.FormatInt(int64(u), 10), nil
	case int32:
		return strconv.FormatInt(int64(u), 10), nil
	case int64:
		return strconv.FormatInt(u, 10), nil
	case uint:
		return strconv.FormatUint(uint64(u), 10), nil
	case uint8:
		return strconv.FormatUint(uint64(u), 10), nil
	case uint16:
		return strconv.FormatUint(uint64(u), 10), nil
	case uint32:
		return strconv.FormatUint(uint64(u), 10), nil
	case uint64:
		return strconv.FormatUint(u, 10), nil
	case fmt.Stringer:
		return u.String(), nil
	}
	return "", fmt.Errorf("%w: %T", ErrUserType, v)
}
