// Theme (follows prefers-color-scheme until the reader picks one) and language switches.
import { lang, onLangChange, setLang, t } from "./i18n.js";

const THEME_KEY = "parlour.theme";
const darkQuery = window.matchMedia("(prefers-color-scheme: dark)");

export function effectiveTheme() {
  const chosen = document.documentElement.dataset.theme;
  if (chosen === "light" || chosen === "dark") return chosen;
  return darkQuery.matches ? "dark" : "light";
}

function labelTheme(button) {
  const next = effectiveTheme() === "dark" ? "light" : "dark";
  button.querySelector("#theme-label").textContent = t(next === "dark" ? "themeDark" : "themeLight");
  button.setAttribute("aria-label", t(next === "dark" ? "switchToDark" : "switchToLight"));
  button.title = button.getAttribute("aria-label");
}

function labelLang(button) {
  button.querySelector("#lang-label").textContent = t("langLabel");
  button.setAttribute("aria-label", t("langSwitch"));
  button.lang = lang() === "zh" ? "en" : "zh-CN";
}

export function setupPrefs(themeButton, langButton) {
  themeButton.addEventListener("click", () => {
    const next = effectiveTheme() === "dark" ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    try {
      localStorage.setItem(THEME_KEY, next);
    } catch {
      // Not remembered when storage is blocked.
    }
    labelTheme(themeButton);
  });
  darkQuery.addEventListener("change", () => labelTheme(themeButton));
  langButton.addEventListener("click", () => setLang(lang() === "zh" ? "en" : "zh"));
  onLangChange(() => {
    labelTheme(themeButton);
    labelLang(langButton);
  });
  labelTheme(themeButton);
  labelLang(langButton);
}
