// The job page's progress: poll the job's JSON and reload the page when it ends.
(function () {
  var box = document.getElementById("job");
  if (!box) return;
  var id = box.getAttribute("data-job");
  function poll() {
    fetch("/api/jobs/" + encodeURIComponent(id), {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (j) {
        if (!j) { setTimeout(poll, 3000); return; }
        if (j.state !== "queued" && j.state !== "running") { window.location.reload(); return; }
        var bar = document.getElementById("job-progress"), count = document.getElementById("job-count");
        if (bar) { bar.max = j.total || 1; bar.value = j.done; }
        if (count) { count.textContent = j.done + "/" + j.total + " " + (j.what || ""); }
        setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 1000);
})();
