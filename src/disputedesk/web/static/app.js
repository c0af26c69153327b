/* disputedesk dashboard: small progressive enhancements, no dependencies (works air-gapped).
   Pages work without it; it adds live countdowns, the browser's time zone, confirmations and
   live bulk progress. */
(function () {
  "use strict";
  var TZ_COOKIE = "dd_tz";

  function cookie(name) {
    var m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : null;
  }
  function setTz(tz) {
    document.cookie = TZ_COOKIE + "=" + encodeURIComponent(tz) + "; path=/; max-age=31536000; samesite=lax";
  }

  // Time zone: the browser's unless the user chose one; the server renders times in it.
  var shown = document.body.getAttribute("data-tz");
  if (!cookie(TZ_COOKIE) && window.Intl && shown) {
    var browser = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (browser) {
      setTz(browser);
      if (browser !== shown) { location.reload(); return; }
    }
  }
  var tzButton = document.getElementById("tz-button");
  if (tzButton) {
    tzButton.addEventListener("click", function () {
      var tz = window.prompt("Show times in which time zone? (e.g. Europe/Berlin, America/New_York, UTC)", shown || "UTC");
      if (tz) { setTz(tz.trim()); location.reload(); }
    });
  }

  // Countdowns: tick every 30 s; red within a day, amber within three.
  function fmt(s, prefix) {
    var neg = s < 0; s = Math.abs(s);
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    var t = d ? d + "d " + h + "h" : (h ? h + "h " + m + "m" : m + "m");
    return (neg ? "overdue by " : (prefix || "")) + t;
  }
  function tick() {
    var now = Date.now() / 1000;
    document.querySelectorAll("time.countdown[data-due]").forEach(function (el) {
      var left = Math.round(parseInt(el.getAttribute("data-due"), 10) - now);
      el.textContent = fmt(left, el.getAttribute("data-prefix"));
      el.classList.remove("urgent", "soon", "ok");
      el.classList.add(left <= 86400 ? "urgent" : (left <= 259200 ? "soon" : "ok"));
    });
  }
  if (document.querySelector("time.countdown[data-due]") && !document.body.hasAttribute("data-frozen-clock")) {
    setInterval(tick, 30000);
  }

  // A refused form: open what hides the first field in error and move the keyboard focus to it;
  // the summary's links do the same for their field.
  function focusField(el) {
    for (var p = el.parentElement; p; p = p.parentElement) {
      if (p.tagName === "DETAILS") { p.open = true; }
    }
    el.focus();
    if (el.scrollIntoView) { el.scrollIntoView({ block: "center" }); }
  }
  var summary = document.querySelector("[data-error-summary]");
  if (summary) {
    var first = document.querySelector("[aria-invalid=true]");
    if (first) { focusField(first); } else { summary.focus(); }
    summary.querySelectorAll("a[href^='#']").forEach(function (a) {
      a.addEventListener("click", function (ev) {
        var target = document.getElementById(a.getAttribute("href").slice(1));
        if (target) { ev.preventDefault(); focusField(target); }
      });
    });
  }

  // Forms that move money or close things ask once more.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { ev.preventDefault(); }
    });
  });
  // A form is sent once: a second press while the first is on its way does nothing.
  document.querySelectorAll("form[method=post]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (ev.defaultPrevented) { return; }
      if (form.dataset.sent) { ev.preventDefault(); return; }
      form.dataset.sent = "1";
    });
  });

  // Bulk job: poll the status endpoint until the job is no longer running.
  var job = document.getElementById("bulk-job");
  if (job) {
    var url = job.getAttribute("data-status-url");
    var poll = function () {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) {
          if (!s) { return; }
          var pct = s.total ? Math.floor(s.finished * 100 / s.total) : 100;
          document.getElementById("bulk-bar").style.width = pct + "%";
          document.getElementById("bulk-finished").textContent = s.finished;
          document.getElementById("bulk-counts").textContent = Object.keys(s.counts).sort().map(function (k) { return k + ": " + s.counts[k]; }).join("  ");
          var status = document.getElementById("bulk-status");
          status.innerHTML = "";
          var pill = document.createElement("span");
          pill.className = "pill pill-" + s.job.status;
          pill.textContent = s.job.status;
          status.appendChild(pill);
          var body = document.getElementById("bulk-rows");
          body.innerHTML = "";
          s.rows.forEach(function (row) {
            var tr = document.createElement("tr");
            [[String(row.row), "num"], [row.status, ""], [row.refund_id || "", "mono small"], [row.error || "", "small danger"]].forEach(function (c) {
              var td = document.createElement("td"); td.textContent = c[0]; td.className = c[1]; tr.appendChild(td);
            });
            body.appendChild(tr);
          });
          var stopForm = document.getElementById("bulk-stop-form");
          var resumeForm = document.getElementById("bulk-resume-form");
          if (stopForm) { stopForm.hidden = s.job.status !== "running"; }
          if (resumeForm) { resumeForm.hidden = s.job.status !== "interrupted"; }
          if (s.job.status === "running" || s.job.status === "stopping") {
            setTimeout(poll, 800);
          } else {
            job.setAttribute("data-finished", "1");
          }
        })
        .catch(function () { setTimeout(poll, 2000); });
    };
    poll();
  }
})();
