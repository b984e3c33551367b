// Package e2e holds the end-to-end tests of the demo web app
// (examples/webapp) in a real, headless Chromium driven by chromedp. It is a
// separate module so that chromedp never becomes a dependency of the
// library.
//
//	cd e2e && go test -race ./...
//
// The tests skip with a message when /usr/bin/chromium (or redis-server, for
// the Redis scenario) is missing, and fail instead when
// SESSION_TEST_REQUIRE_REAL=1. The devices page screenshot goes to a new
// directory under the system temporary directory (its path is logged with
// -v), or to $E2E_ARTIFACTS when set.
package e2e
