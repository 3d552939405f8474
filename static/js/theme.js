// Runs in <head>, before the first paint: applies the stored theme so a dark-mode user never sees a light flash.
(function () {
  var root = document.documentElement;
  root.classList.add("js");
  try {
    var stored = window.localStorage.getItem("zimage-theme");
    if (stored === "light" || stored === "dark") root.setAttribute("data-theme", stored);
  } catch (error) {
    // localStorage can be disabled; the system preference still applies.
  }
})();
