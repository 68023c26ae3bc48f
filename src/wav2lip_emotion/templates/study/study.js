"use strict";
var FIELDS = ["sync", "quality", "emotion"];
function csvCell(value) {
  var s = String(value);
  return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}
function ratingsCsv(rater, rows) {
  var lines = ["rater,clip,sync,quality,emotion"];
  rows.forEach(function (row) { lines.push([rater].concat(row).map(csvCell).join(",")); });
  return lines.join("\n") + "\n";
}
if (typeof document !== "undefined") {
  (function () {
    var form = document.getElementById("ratings");
    var raterInput = document.getElementById("rater");
    var progress = document.getElementById("progress");
    var store = "wav2lip-emotion-study:" + document.body.getAttribute("data-study");
    var clips = Array.prototype.map.call(document.querySelectorAll("section.clip"), function (s) {
      return s.getAttribute("data-clip");
    });
    function field(clip, name) { return form.elements.namedItem(clip + ":" + name); }
    function rows() {
      return clips.map(function (clip) {
        return [clip].concat(FIELDS.map(function (f) { var el = field(clip, f); return el ? el.value : ""; }));
      });
    }
    function complete() {
      return rows().filter(function (r) { return r[1] && r[2] && r[3]; }).length;
    }
    function save() {
      var values = {};
      rows().forEach(function (r) { values[r[0]] = r.slice(1); });
      try { localStorage.setItem(store, JSON.stringify({ rater: raterInput.value, values: values })); } catch (e) {}
      progress.textContent = complete() + " of " + clips.length + " clips fully rated";
    }
    function restore() {
      var saved = null;
      try { saved = JSON.parse(localStorage.getItem(store) || "null"); } catch (e) {}
      if (saved && saved.values) {
        raterInput.value = saved.rater || "";
        clips.forEach(function (clip) {
          var v = saved.values[clip] || [];
          FIELDS.forEach(function (f, i) { var el = field(clip, f); if (el && v[i]) { el.value = v[i]; } });
        });
      }
    }
    function download() {
      var rater = raterInput.value.trim();
      if (!rater) { alert("Please enter your name or rater code first."); raterInput.focus(); return; }
      var missing = clips.length - complete();
      if (missing && !confirm(missing + " clips are not fully rated. Download anyway?")) { return; }
      var blob = new Blob([ratingsCsv(rater, rows())], { type: "text/csv;charset=utf-8" });
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = "ratings_" + (rater.replace(/[^A-Za-z0-9_-]+/g, "_") || "rater") + ".csv";
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    }
    restore();
    form.addEventListener("change", save);
    raterInput.addEventListener("input", save);
    document.getElementById("download").addEventListener("click", download);
    save();
  })();
}
