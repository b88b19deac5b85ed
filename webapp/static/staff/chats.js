// The Chats page's alert (#15): when htmx swaps in a list with a chat that
// was not waiting before, the page title says so and a short tone sounds
// (browsers play it once the page has had a click). The polling is htmx's.
(function () {
  "use strict";
  var seen = null;
  var title = document.title;
  function waitingIds() {
    var list = document.getElementById("chat-list");
    var ids = list ? list.getAttribute("data-waiting") : "";
    return ids ? ids.split(" ") : [];
  }
  function beep() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) { return; }
    try {
      var context = new Context();
      var tone = context.createOscillator();
      tone.frequency.value = 880;
      tone.connect(context.destination);
      tone.start();
      tone.stop(context.currentTime + 0.25);
    } catch (error) { /* no sound: the title still changes */ }
  }
  function check() {
    var ids = waitingIds();
    var fresh = seen === null ? [] : ids.filter(function (id) { return seen.indexOf(id) < 0; });
    seen = ids;
    document.title = ids.length ? "(" + ids.length + ") " + title : title;
    if (fresh.length) { beep(); }
  }
  document.addEventListener("DOMContentLoaded", check);
  document.addEventListener("htmx:afterSwap", check);
})();
