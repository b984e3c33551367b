// live.js keeps a Server-Sent Events stream open on /live while the profile
// page is shown. The server ends it when this session ends anywhere (logged
// out in another tab, revoked from another device, expired): the page then
// reloads, and the server sends the browser to the login form.
(function () {
  var el = document.getElementById('live');
  if (!el || !window.EventSource) return;
  var es = new EventSource('/live');
  es.addEventListener('live', function () { el.textContent = 'Live updates: connected'; });
  es.addEventListener('ended', function () {
    es.close();
    el.textContent = 'This session ended.';
    location.reload();
  });
})();
