// Roster console: the change feed, live over Server-Sent Events.
//
// The feed page (/events) carries a poller that htmx runs every 2 s
// (/events/poll). Where the browser has EventSource, this script takes the
// poller's place before htmx starts it (both scripts are deferred; htmx
// begins at DOMContentLoaded, after them) and listens to /events/stream,
// the same feed for the signed-in session: each `change` event's data is a
// row, rendered and escaped by the server, put atop the list. EventSource
// reconnects by itself and resumes after the last row with Last-Event-ID.
// When the session ends (sign-out, its key revoked, expiry) the server says
// `signed-out` and closes; a reconnection it refuses closes the source:
// either way the page goes to the sign-in form. Without EventSource the
// poller stays, and without JavaScript a reload shows new changes.
(function () {
  'use strict';
  var poller = document.getElementById('poller');
  var feed = document.getElementById('feed');
  if (!poller || !feed || typeof window.EventSource !== 'function') {
    return;
  }
  var url = poller.getAttribute('data-stream');
  if (!url) {
    return;
  }
  poller.removeAttribute('hx-get');
  poller.removeAttribute('hx-trigger');
  poller.setAttribute('data-live', 'connecting');
  var source = new EventSource(url);
  var signIn = function () {
    source.close();
    window.location.assign('/sign-in?next=' + encodeURIComponent('/events'));
  };
  source.addEventListener('open', function () {
    poller.setAttribute('data-live', 'stream');
  });
  source.addEventListener('change', function (e) {
    feed.insertAdjacentHTML('afterbegin', e.data);
    var empty = document.getElementById('feed-empty');
    if (empty) {
      empty.remove();
    }
  });
  source.addEventListener('signed-out', signIn);
  source.addEventListener('error', function () {
    if (source.readyState === EventSource.CLOSED) {
      signIn();
    }
  });
})();
