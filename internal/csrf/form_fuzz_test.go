package csrf

import (
	"bytes"
	"mime/multipart"
	"net/url"
	"testing"
)

// FuzzCSRFFormField feeds arbitrary bodies, whole and cut short, to the
// parsers the CSRF middleware uses to find the csrf_token field: they never
// panic, and on a whole URL-encoded body they agree with url.ParseQuery.
func FuzzCSRFFormField(f *testing.F) {
	const boundary = "b0undary"
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	_ = mw.SetBoundary(boundary)
	_ = mw.WriteField(Field, "tok")
	fw, _ := mw.CreateFormFile("file", "f")
	_, _ = fw.Write([]byte("contents"))
	_ = mw.Close()
	for _, seed := range [][]byte{
		[]byte("csrf_token=tok&a=b"),
		[]byte("a=b&csrf_token=tok"),
		[]byte("csrf_token=%zz"),
		[]byte("csrf_token=a;b=c"),
		[]byte("csrf_token"),
		mp.Bytes(),
		mp.Bytes()[:40],
		[]byte("--" + boundary + "\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n"),
	} {
		f.Add(seed, len(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte, cut int) {
		if cut < 0 || cut > len(body) {
			cut = len(body)
		}
		complete := cut == len(body)
		prefix := body[:cut]
		tok, found, bad := urlencodedField(prefix, complete)
		if complete {
			vals, err := url.ParseQuery(string(body))
			if (err != nil) != bad {
				t.Fatalf("bad=%v, ParseQuery error %v", bad, err)
			}
			if err == nil && vals.Has(Field) != found {
				t.Fatalf("found=%v, ParseQuery %v", found, vals)
			}
			if found && tok != vals.Get(Field) {
				t.Fatalf("token %q, ParseQuery %q", tok, vals.Get(Field))
			}
		}
		if tok, found, _ := multipartField(prefix, boundary, complete); found && len(tok) > maxField+1 {
			t.Fatalf("field value of %d bytes", len(tok))
		}
		_, _, _ = multipartField(prefix, "", complete)
	})
}
