// A page restored from the browser's back/forward cache (Chrome keeps even
// Cache-Control: no-store pages there) is shown without asking the server:
// after a logout, Back would show the private page again. Reload it instead,
// so the server decides what this browser may see now.
addEventListener('pageshow', function (e) {
  if (e.persisted) location.reload();
});
