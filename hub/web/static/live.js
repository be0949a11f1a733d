// What both live walls share: building elements, the connection light, and the event stream
// that feeds a page, reconnecting by itself and saying why when the hub refuses it.
"use strict";

const RECONNECT_GRACE_MS = 3000; // planned stream rotations reconnect faster than this

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

// The light in the header: "connecting", "live", "reconnecting" or "signedOut".
function showConnection(state, label) {
  const box = document.querySelector('[data-testid="conn-state"]');
  box.dataset.state = state;
  box.querySelector(".conn-label").textContent = label;
}

// Reads ``url`` into ``listeners`` (event name -> handler) for good; ``onState`` hears the
// connection's state. ``probe`` is a cheap JSON route of the same data, asked why when the
// browser gives up on the stream.
function liveStream(url, listeners, probe, onState) {
  let graceTimer = null;
  function connect() {
    const source = new EventSource(url);
    for (const [name, handler] of Object.entries(listeners)) source.addEventListener(name, handler);
    source.onopen = () => {
      clearTimeout(graceTimer);
      graceTimer = null;
      onState("live");
    };
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        // The browser gives up on an HTTP error (503: busy; 401/403: not signed in): ask why,
        // say so, and start again with a fresh snapshot.
        source.close();
        fetch(probe, { cache: "no-store" }).then(
          (answer) => onState([401, 403].includes(answer.status) ? "signedOut" : "reconnecting"),
          () => onState("reconnecting"));
        setTimeout(connect, 5000);
      } else if (graceTimer === null) {
        graceTimer = setTimeout(() => { graceTimer = null; onState("reconnecting"); },
          RECONNECT_GRACE_MS);
      }
    };
  }
  connect();
}
