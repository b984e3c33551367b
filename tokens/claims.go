package tokens

import (
	"encoding/json"
	"math"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// accessClaims is the JWT payload: RFC 9068's claims plus sid. It
// implements jwt.Claims with plain fields (numeric dates as JSON numbers,
// aud a string or an array), which decode faster than jwt.RegisteredClaims;
// golang-jwt still does all of the validation.
type accessClaims struct {
	Iss string   `json:"iss"`
	Sub string   `json:"sub"`
	Aud audience `json:"aud"`
	Exp float64  `json:"exp"`
	Nbf float64  `json:"nbf,omitempty"`
	Iat float64  `json:"iat"`
	Jti string   `json:"jti"`
	SID string   `json:"sid"`
}

// audience is the aud claim: one string (as written) or an array.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = audience{s}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(a))
}

func (a audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// date converts a numeric date; 0 (absent) is nil, so that a missing exp
// is refused as missing.
func date(f float64) *jwt.NumericDate {
	if f == 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	sec, frac := math.Modf(f)
	return &jwt.NumericDate{Time: time.Unix(int64(sec), int64(frac*1e9))}
}

func unix(t time.Time) float64 { return float64(t.Unix()) }

func (c *accessClaims) GetExpirationTime() (*jwt.NumericDate, error) { return date(c.Exp), nil }
func (c *accessClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return date(c.Iat), nil }
func (c *accessClaims) GetNotBefore() (*jwt.NumericDate, error)      { return date(c.Nbf), nil }
func (c *accessClaims) GetIssuer() (string, error)                   { return c.Iss, nil }
func (c *accessClaims) GetSubject() (string, error)                  { return c.Sub, nil }
func (c *accessClaims) GetAudience() (jwt.ClaimStrings, error)       { return jwt.ClaimStrings(c.Aud), nil }
