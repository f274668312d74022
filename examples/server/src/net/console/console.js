// The lantrust console's only script (served from /admin/ui/static/, allowed by the CSP's
// script-src 'self'; no inline code anywhere). It keeps the pending list current without a
// reload, and asks before a revocation.
"use strict";
(function () {
  function watchPending(list) {
    var src = list.getAttribute("data-src");
    var count = document.getElementById("pending-count");
    var last = list.innerHTML;
    function poll() {
      fetch(src, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) {
          if (r.status === 401) {
            window.location.assign("/admin/login");
            return null;
          }
          if (!r.ok) {
            return null;
          }
          if (count && r.headers.get("x-pending-count") !== null) {
            count.textContent = r.headers.get("x-pending-count");
          }
          return r.text();
        })
        .then(function (html) {
          if (html !== null && html !== last) {
            last = html;
            list.innerHTML = html;
            document.title = "(" + (count ? count.textContent : "") + ") Pending · lantrust console";
          }
        })
        .catch(function () {})
        .then(function () {
          window.setTimeout(poll, 1000);
        });
    }
    window.setTimeout(poll, 1000);
  }

  document.addEventListener("submit", function (e) {
    var b = e.submitter;
    if (b && b.classList.contains("confirm") && !window.confirm(b.getAttribute("data-confirm"))) {
      e.preventDefault();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var list = document.getElementById("pending-list");
    if (list) {
      watchPending(list);
    }
  });
})();
