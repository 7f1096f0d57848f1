// Accounts (AUTH_MODE=password): the sign-in / sign-up screen, and who is signed in
// (shown in the sidebar with a Sign out button). With AUTH_MODE=none none of it shows.
import { api, ApiError } from "./api.js";
import { describeError } from "./errors.js";
import { lang, setLang, t, waitText } from "./i18n.js";
import { toast } from "./notify.js";

const $ = (id) => document.getElementById(id);

/** Sign-in and sign-up refusals: by code, like every error; too many tries say how long. */
export function describeAuthError(err) {
  if (err?.code === "rate_limited" || err?.status === 429) {
    const seconds = Number(err?.retry_after);
    return seconds > 0 ? t("authTooManyAfter", { wait: waitText(seconds) }) : t("errTooMany");
  }
  return describeError(err);
}

export class Auth {
  /** hooks: onSignedIn(user) after a sign-in or sign-up, onSignedOut() after signing out. */
  constructor(hooks) {
    this.hooks = hooks;
    this.mode = "signin";
    this.user = null;
    this.busy = false;
    for (const tab of [$("tab-signin"), $("tab-signup")]) {
      tab.addEventListener("click", () => this.setMode(tab.dataset.mode, true));
      tab.addEventListener("keydown", (event) => {
        if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
        event.preventDefault();
        this.setMode(this.mode === "signin" ? "signup" : "signin", true);
        $(this.mode === "signin" ? "tab-signin" : "tab-signup").focus();
      });
    }
    $("auth-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    $("auth-lang").addEventListener("click", () => setLang(lang() === "zh" ? "en" : "zh"));
    $("sign-out").addEventListener("click", () => this.signOut());
  }

  /** Who is signed in: the user, or null (then the sign-in screen is shown). */
  async check() {
    try {
      const user = await api.me();
      this.showUser(user);
      return user;
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        this.showScreen();
        return null;
      }
      throw err;
    }
  }

  setMode(mode, clear = false) {
    this.mode = mode;
    const signup = mode === "signup";
    $("tab-signin").setAttribute("aria-selected", String(!signup));
    $("tab-signup").setAttribute("aria-selected", String(signup));
    $("tab-signin").tabIndex = signup ? -1 : 0;
    $("tab-signup").tabIndex = signup ? 0 : -1;
    $("auth-panel").setAttribute("aria-labelledby", signup ? "tab-signup" : "tab-signin");
    $("invite-field").hidden = !signup;
    $("auth-password").autocomplete = signup ? "new-password" : "current-password";
    $("auth-title").dataset.i18n = signup ? "authSignUpTitle" : "authSignInTitle";
    $("auth-title").textContent = t($("auth-title").dataset.i18n);
    $("auth-submit").dataset.i18n = signup ? "signUp" : "signIn";
    $("auth-submit").textContent = t($("auth-submit").dataset.i18n);
    if (clear) this.showError(null);
  }

  showError(text) {
    $("auth-error").textContent = text ?? "";
    $("auth-error").hidden = !text;
  }

  /** Show the sign-in screen (with a notice, say when a sign-in has ended). */
  showScreen(notice = null) {
    this.user = null;
    $("user-row").hidden = true;
    document.body.dataset.view = "auth";
    document.title = `${t(this.mode === "signup" ? "signUp" : "signIn")} · Parlour`;
    $("auth-password").value = "";
    this.showError(notice);
    $("auth").hidden = false;
    $("auth-username").focus();
  }

  hideScreen() {
    $("auth").hidden = true;
    this.showError(null);
    $("auth-password").value = "";
    $("auth-invite").value = "";
  }

  showUser(user) {
    this.user = user;
    const accounts = user?.auth_mode === "password";
    $("user-row").hidden = !accounts;
    if (!accounts) return;
    $("user-name").textContent = user.username;
    $("user-name").title = t("signedInAs", { name: user.username });
    $("user-mark").textContent = user.username.slice(0, 1).toUpperCase();
  }

  async submit() {
    if (this.busy) return;
    const username = $("auth-username").value.trim();
    const password = $("auth-password").value;
    if (!username || !password) {
      this.showError(t("authMissing"));
      (username ? $("auth-password") : $("auth-username")).focus();
      return;
    }
    this.busy = true;
    $("auth-submit").disabled = true;
    try {
      let signed;
      if (this.mode === "signup") {
        const invite = $("auth-invite").value.trim();
        signed = await api.signUp(invite ? { username, password, invite } : { username, password });
      } else signed = await api.signIn(username, password);
      this.hideScreen();
      this.showUser({ auth_mode: "password", ...signed.user });
      await this.hooks.onSignedIn(this.user);
    } catch (err) {
      this.showError(describeAuthError(err));
      $("auth-password").select();
      $("auth-password").focus();
    } finally {
      this.busy = false;
      $("auth-submit").disabled = false;
    }
  }

  async signOut() {
    try {
      await api.signOut();
    } catch (err) {
      // Already signed out is signed out; anything else is worth telling.
      if (!(err instanceof ApiError && err.status === 401)) {
        toast(describeError(err));
        return;
      }
    }
    this.hooks.onSignedOut();
    this.showScreen();
    toast(t("signedOut"));
  }
}
