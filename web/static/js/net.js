// JSON reads and writes of the UI's own endpoints, with the CSRF header; a 401 means the
// sign-in lapsed, and the page goes to the login form.

export class SignedOut extends Error {}

/** The daemon did not answer at all (refused, reset, offline): worth retrying. */
export class Unreachable extends Error {}

export async function getJson(url, csrf) {
  let r;
  try {
    r = await fetch(url, {
      headers: { "X-CSRF-Token": csrf, Accept: "application/json" },
      credentials: "same-origin", cache: "no-store",
    });
  } catch (e) {
    throw new Unreachable(url + ": " + e.message);
  }
  if (r.status === 401) {
    window.location.assign("/ui/login");
    throw new SignedOut("signed out");
  }
  if (r.status === 502 || r.status === 503 || r.status === 504) throw new Unreachable(url + ": HTTP " + r.status);
  if (!r.ok) throw new Error(url + ": HTTP " + r.status);
  return r.json();
}

/** A JSON POST with the CSRF header; resolves to the Response (the caller reads the status),
 *  rejects with Unreachable when nothing answered. */
export async function postJson(url, csrf, body) {
  try {
    return await fetch(url, {
      method: "POST",
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json", Accept: "application/json" },
      credentials: "same-origin", cache: "no-store", body: JSON.stringify(body),
    });
  } catch (e) {
    throw new Unreachable(url + ": " + e.message);
  }
}
