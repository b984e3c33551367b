// Package csrf holds the mechanics of package session's CSRF defence: the
// masked token format (token.go), the keys and secrets of the stateless
// tokens of sessions not yet stored, and finding the token a request sends
// (form.go): in a header, or in a bounded prefix of a URL-encoded or
// multipart form body that is put back in front of the rest, so the
// handler still reads the body whole.
package csrf

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
)

// Header is the request header the token is read from (fetch/XHR clients).
const Header = "X-CSRF-Token"

// Field is the form field the token is read from when the header is absent.
const Field = "csrf_token"

// TooLarge is the reason for a body whose token lies past the bound.
const TooLarge = "too_large"

// maxField bounds what is read of a csrf_token multipart part: far more
// than a token (86 bytes), so an oversized one is still seen as malformed.
const maxField = 1 << 10

// Form is what the CSRF middleware found in a request.
type Form struct {
	Token   string        // the token sent, when Reason is ""
	Reason  string        // "" when a token was found, else why not
	Req     *http.Request // the request to hand on (its body restored)
	Drained bool          // the body was read to its end (or never needs to be)
}

// Read returns the token a request sends: the Header header if present
// (the body is not touched), else the Field field within the first limit
// bytes of a URL-encoded or multipart body. The
// bytes it reads are put back in front of the rest of the body, in a
// shallow copy of r, so the handler reads the body whole.
func Read(r *http.Request, limit int64) Form {
	if v := r.Header.Get(Header); v != "" {
		return Form{Token: v, Req: r}
	}
	f := Form{Reason: "missing", Req: r, Drained: true}
	ct, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (ct != "application/x-www-form-urlencoded" && ct != "multipart/form-data") {
		f.Drained = false
		return f
	}
	if r.Body == nil || r.Body == http.NoBody {
		return f
	}
	// One byte past the limit tells a body that ends at the limit from a
	// longer one.
	prefix, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if len(prefix) > 0 {
		r = r.WithContext(r.Context()) // a shallow copy
		r.Body = prefixedBody{io.MultiReader(bytes.NewReader(prefix), r.Body), r.Body}
		f.Req = r
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		// An outer http.MaxBytesHandler refused the body.
		f.Reason, f.Drained = TooLarge, false
		return f
	case err != nil:
		f.Reason, f.Drained = "malformed", false
		return f
	}
	complete := int64(len(prefix)) <= limit
	if !complete {
		prefix = prefix[:limit]
		f.Drained = false
	}
	f.Token, f.Reason = formToken(ct, params["boundary"], prefix, complete)
	return f
}

// formToken finds the Field value in the body prefix of a form of
// media type ct: the token, or "" and why not ("missing", "malformed",
// TooLarge when the prefix ended before a token was found).
func formToken(ct, boundary string, prefix []byte, complete bool) (token, reason string) {
	var found, bad bool
	if ct == "multipart/form-data" {
		token, found, bad = multipartField(prefix, boundary, complete)
	} else {
		token, found, bad = urlencodedField(prefix, complete)
	}
	switch {
	case found && token != "":
		return token, ""
	case !complete:
		return "", TooLarge
	case bad:
		return "", "malformed"
	}
	return "", "missing"
}

// prefixedBody is a request body whose first bytes were already read: it
// reads them again, then the rest, and closes the original body.
type prefixedBody struct {
	io.Reader
	io.Closer
}

// urlencodedField looks for the first Field value in a URL-encoded body
// (or its prefix, when complete is false: then only the pairs that end
// before the prefix does count). bad reports a body that does not parse.
func urlencodedField(b []byte, complete bool) (token string, found, bad bool) {
	if !complete {
		i := bytes.LastIndexByte(b, '&')
		if i < 0 {
			return "", false, false
		}
		b = b[:i]
	}
	vals, err := url.ParseQuery(string(b))
	if err != nil {
		return "", false, true
	}
	if v, ok := vals[Field]; ok {
		return v[0], true, false
	}
	return "", false, false
}

// multipartField looks for the first Field part (not a file) in a
// multipart body (or its prefix, when complete is false: then running out
// of bytes is not an error). bad reports a body that does not parse.
func multipartField(b []byte, boundary string, complete bool) (token string, found, bad bool) {
	if boundary == "" {
		return "", false, true
	}
	mr := multipart.NewReader(bytes.NewReader(b), boundary)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return "", false, false
		}
		if err != nil {
			return "", false, complete
		}
		if p.FormName() != Field || p.FileName() != "" {
			continue
		}
		v, err := io.ReadAll(io.LimitReader(p, maxField+1))
		if err != nil {
			return "", false, complete
		}
		return string(v), true, false
	}
}
