// Runs before the first paint (a classic script, not a module) so a remembered
// theme or language never flashes the other one first.
(function () {
  var root = document.documentElement;
  try {
    var theme = localStorage.getItem("parlour.theme");
    if (theme === "light" || theme === "dark") root.dataset.theme = theme;
    var lang = localStorage.getItem("parlour.lang");
    if (lang !== "zh" && lang !== "en") {
      lang = /^zh\b/i.test(navigator.language || "") ? "zh" : "en";
    }
    root.lang = lang === "zh" ? "zh-CN" : "en";
  } catch (e) {
    // Storage can be blocked; the defaults then apply.
  }
})();
