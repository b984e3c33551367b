package csrf

import (
	"html"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// relayScript submits the relay page's form, through the prototype's
// method: a field named "submit" shadows the form's own.
const relayScript = `HTMLFormElement.prototype.submit.call(document.forms[0])`

// relayCSP allows exactly relayScript (its SHA-256, which a test checks)
// and nothing else. No form-action: Chromium applies it to the redirects
// after the submission too, and a callback may send the user to another
// origin.
const relayCSP = "default-src 'none'; script-src 'sha256-ox4bri+xTrW3kuLTyRoak73QX8KZGuyP3JlQYusbSlA='; " +
	"frame-ancestors 'none'; base-uri 'none'"

// WriteRelay answers with a page that posts form again to action from the
// page's own origin (the re-POST of a federated login callback): one
// hidden field per value, submitted by the one script the page's
// Content-Security-Policy allows, or by a Continue button without
// JavaScript. Nothing is cached, nothing is referred.
func WriteRelay(w http.ResponseWriter, action string, form url.Values) {
	var b strings.Builder
	b.WriteString(`<!doctype html><meta charset="utf-8"><title>Signing in</title><form method="post" action="`)
	b.WriteString(html.EscapeString(action))
	b.WriteString(`">`)
	for _, name := range slices.Sorted(maps.Keys(form)) {
		for _, v := range form[name] {
			b.WriteString(`<input type="hidden" name="` + html.EscapeString(name) + `" value="` + html.EscapeString(v) + `">`)
		}
	}
	b.WriteString(`<noscript><button type="submit">Continue</button></noscript></form><script>` + relayScript + `</script>`)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", relayCSP)
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(b.String()))
}
