// Saved searches on the search page: "Save this search", the list of saved searches with
// their delivery status, and new-since-last-visit marks on a saved search's results.
// Loaded before search.js, whose globals ($, api, state, pageUrl...) it calls at run time;
// search.js calls savedMarks() and markIfNew() while it renders results.
"use strict";

const VISIT_STORAGE = "newsagg.saved-visit."; // + id: when its results were last seen (ISO)
const SAVED_REFRESH_MS = 30000;
const MAX_NEW_MARKS = 500;
const STATUS_LABELS = { active: "Active", paused: "Paused", failing: "Failing" };
const SCHEDULE_LABELS = { instant: "as they come", hourly: "hourly digest", daily: "daily digest" };

let newSince = new Set(); // ids of the open saved search's matches found since the last visit
let savedSearches = [];
let savedDrawn = ""; // the list as last drawn: a refresh that changes nothing keeps focus

/** Like api(), with a method and a JSON body; a 204 is null. */
async function apiSend(method, path, body) {
  const headers = { Accept: "application/json" };
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (key) headers["X-API-Key"] = key;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new ApiError(0, { title: "Network error", detail: `The service cannot be reached (${err.message}).` });
  }
  if (response.status === 204) return null;
  const answer = await response.json().catch(() => ({ title: response.statusText }));
  if (!response.ok) throw new ApiError(response.status, answer);
  return answer;
}

function savedPath(id, rest = "") {
  return `v1/saved-searches/${encodeURIComponent(id)}${rest}`;
}

// ---- new-since-last-visit marks ---------------------------------------------------

/** Before a saved search's results render: which of its matches are new since the last
 * visit (all of them on a first visit); the visit is then remembered as now. */
async function savedMarks() {
  newSince = new Set();
  const id = state.saved;
  const note = $("saved-note");
  note.hidden = true;
  if (!id) return;
  const key = VISIT_STORAGE + id;
  const lastVisit = localStorage.getItem(key);
  const since = lastVisit || new Date(0).toISOString();
  try {
    const params = new URLSearchParams({ since, limit: MAX_NEW_MARKS });
    const [search, found] = await Promise.all([api(savedPath(id)), api(savedPath(id, "/matches"), params)]);
    newSince = new Set(found.matches.map((m) => m.id));
    localStorage.setItem(key, new Date().toISOString());
    const count = found.matches.length;
    const when = lastVisit ? `since your last visit (${dateTime.format(new Date(lastVisit))})` : "since it was saved";
    note.textContent = `Saved search “${search.name}”: ${count} new ${count === 1 ? "article" : "articles"} ${when}.`;
    note.hidden = false;
  } catch {
    // The marks are an aid: the results show without them (and a 404 means it was deleted).
  }
}

function markIfNew(item, hit) {
  if (!newSince.has(hit.id)) return;
  item.classList.add("is-new");
  const mark = document.createElement("span");
  mark.className = "new-mark";
  mark.textContent = "New";
  const why = document.createElement("span");
  why.className = "visually-hidden";
  why.textContent = " since your last visit: ";
  mark.append(why);
  item.querySelector(".hit-title").prepend(mark, " ");
}

// ---- the list ----------------------------------------------------------------------

async function loadSaved() {
  const status = $("saved-status");
  try {
    const body = await api("v1/saved-searches");
    savedSearches = body.saved_searches;
  } catch (err) {
    $("saved-list").replaceChildren();
    savedDrawn = "";
    status.textContent =
      err.status === 401 ? "Saved searches show once the API key is given." : `Saved searches cannot be listed: ${err.message}`;
    return;
  }
  drawSaved();
  status.textContent = savedSearches.length ? "" : "None yet: search, then “Save this search”.";
}

function drawSaved() {
  const drawn = JSON.stringify(savedSearches);
  if (drawn === savedDrawn) return;
  savedDrawn = drawn;
  $("saved-list").replaceChildren(...savedSearches.map(savedItem));
}

function savedItem(search) {
  const item = document.createElement("li");
  item.className = `saved-item status-${search.status}`;
  item.dataset.savedId = search.id;

  const title = document.createElement("p");
  title.className = "saved-title";
  const link = document.createElement("a");
  link.textContent = search.name;
  link.href = pageUrl(savedState(search));
  const badge = document.createElement("span");
  badge.className = "saved-status";
  badge.textContent = STATUS_LABELS[search.status] || search.status;
  title.append(link, " ", badge);

  const facts = document.createElement("p");
  facts.className = "hint saved-facts";
  const delivered = search.last_delivery_at ? `last delivery ${relativeTo(search.last_delivery_at)}` : "no delivery yet";
  const pending = document.createElement("span");
  pending.className = "saved-pending";
  pending.textContent = `${search.pending >= 1000 ? "1,000+" : search.pending.toLocaleString()} pending`;
  facts.append(`${SCHEDULE_LABELS[search.schedule] || search.schedule}; ${delivered}; `, pending);
  if (search.last_delivery_at) facts.title = dateTime.format(new Date(search.last_delivery_at));

  item.append(title, facts);
  if (search.last_error) {
    const error = document.createElement("p");
    error.className = "saved-error";
    error.textContent = `Last attempt failed: ${search.last_error}`;
    item.append(error);
  }

  const actions = document.createElement("div");
  actions.className = "saved-actions";
  const resume = search.paused || search.failing;
  actions.append(
    actionButton(resume ? "Resume" : "Pause", search, () => patchSaved(search, { paused: !resume })),
    actionButton("Send test", search, () => requestTest(search), !search.webhook_url && !search.emails.length),
    feedLink(search),
    actionButton("Delete", search, () => deleteSaved(search)),
  );
  item.append(actions);
  return item;
}

/** A button whose accessible name carries the search's name ("Pause Soman"). */
function actionButton(label, search, onClick, disabled = false) {
  const button = document.createElement("button");
  button.type = "button";
  button.append(label);
  const name = document.createElement("span");
  name.className = "visually-hidden";
  name.textContent = ` “${search.name}”`;
  button.append(name);
  button.disabled = disabled;
  if (disabled) button.title = "It has no webhook or email to test";
  button.addEventListener("click", onClick);
  return button;
}

function feedLink(search) {
  const link = document.createElement("a");
  link.href = safeHttpUrl(search.feed_url);
  link.append("Feed");
  const name = document.createElement("span");
  name.className = "visually-hidden";
  name.textContent = ` of “${search.name}” (RSS)`;
  link.append(name);
  return link;
}

/** The page state that shows a saved search's results (the filters the page has). */
function savedState(search) {
  const day = (iso) => (iso ? iso.slice(0, 10) : "");
  return {
    q: search.q || "",
    sources: search.sources,
    authors: search.authors,
    language: search.language,
    person: search.person,
    from: day(search.from),
    to: day(search.to),
    quality: search.quality || "",
    sort: "date",
    collapse: "",
    article: "",
    story: "",
    saved: search.id,
  };
}

async function patchSaved(search, changes) {
  await savedAction(async () => {
    await apiSend("PATCH", savedPath(search.id), changes);
    return changes.paused ? `Paused “${search.name}”.` : `Resumed “${search.name}”.`;
  });
}

async function requestTest(search) {
  await savedAction(async () => {
    await apiSend("POST", savedPath(search.id, "/test"));
    setTimeout(loadSaved, 3000); // the worker sends it within seconds: show how it went
    return `Test delivery requested for “${search.name}”.`;
  });
}

async function deleteSaved(search) {
  if (!window.confirm(`Delete the saved search “${search.name}”? Its feed stops too.`)) return;
  await savedAction(async () => {
    await apiSend("DELETE", savedPath(search.id));
    localStorage.removeItem(VISIT_STORAGE + search.id);
    return `Deleted “${search.name}”.`;
  });
}

async function savedAction(act) {
  try {
    const done = await act();
    await loadSaved();
    $("saved-status").textContent = done;
  } catch (err) {
    $("saved-status").textContent = `That did not work: ${err.message}`;
  }
}

// ---- "Save this search" ------------------------------------------------------------

function openSaveDialog() {
  const filters = [...$("active-filters").querySelectorAll(".chip:not(.clear)")].map((c) => c.textContent.trim());
  $("save-name").value = state.q || "All new articles";
  $("save-summary").textContent = [state.q ? `Query: ${state.q}` : "Every new article", ...filters].join(" · ");
  $("save-error").hidden = true;
  $("save-dialog").showModal();
  $("save-name").select();
}

async function submitSave(event) {
  event.preventDefault();
  const email = $("save-email").value.trim();
  const body = {
    name: $("save-name").value.trim(),
    q: state.q || null,
    sources: state.sources,
    authors: state.authors,
    language: state.language,
    person: state.person,
    from: state.from || null,
    to: state.to || null,
    quality: state.quality || null,
    webhook_url: $("save-webhook").value.trim() || null,
    emails: email ? [email] : [],
    schedule: $("save-schedule").value,
  };
  const error = $("save-error");
  if (!body.name) {
    error.textContent = "Give it a name.";
    error.hidden = false;
    $("save-name").focus();
    return;
  }
  try {
    const created = await apiSend("POST", "v1/saved-searches", body);
    localStorage.setItem(VISIT_STORAGE + created.id, new Date().toISOString());
    $("save-dialog").close();
    $("save-form").reset();
    showCreated(created);
    await loadSaved();
  } catch (err) {
    error.textContent = err.message;
    error.hidden = false;
  }
}

function showCreated(created) {
  const box = $("saved-created");
  box.replaceChildren(`Saved “${created.name}”. `);
  if (created.webhook_url) {
    const secret = document.createElement("code");
    secret.className = "saved-secret";
    secret.textContent = created.secret;
    box.append("Its webhook secret (shown only now; each delivery is signed with it): ", secret, " ");
  }
  const close = document.createElement("button");
  close.type = "button";
  close.textContent = "Dismiss";
  close.addEventListener("click", () => { box.hidden = true; });
  box.append(close);
  box.hidden = false;
}

function wireSaved() {
  $("save-search").addEventListener("click", openSaveDialog);
  $("save-form").addEventListener("submit", submitSave);
  $("save-cancel").addEventListener("click", () => $("save-dialog").close());
  $("key-form").addEventListener("submit", () => setTimeout(loadSaved));
  setInterval(() => {
    if (document.visibilityState === "visible") loadSaved();
  }, SAVED_REFRESH_MS);
  loadSaved();
}

document.addEventListener("DOMContentLoaded", wireSaved);
