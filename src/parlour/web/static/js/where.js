// Which conversation is open: in the URL (#/c/<id>) and remembered for the next visit.

const SESSION_KEY = "parlour.session";

export function remember(id) {
  try {
    if (id) localStorage.setItem(SESSION_KEY, id);
    else localStorage.removeItem(SESSION_KEY);
  } catch {
    // The URL still carries the session.
  }
}

export function idFromUrl() {
  const match = /^#\/c\/([\w.-]{1,64})$/.exec(location.hash);
  return match ? match[1] : null;
}

export function savedId() {
  try {
    return localStorage.getItem(SESSION_KEY);
  } catch {
    return null;
  }
}
