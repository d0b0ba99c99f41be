// The editors' search page: plain JavaScript over the JSON API, no build step.
// The page state lives in the URL (the same parameter names as /v1/search), so any
// view can be bookmarked, shared and reloaded; every change goes through go().
"use strict";

const LIST_PARAMS = ["sources", "authors", "language", "person"];
const SINGLE_PARAMS = ["q", "from", "to", "quality", "sort", "collapse", "article", "story", "saved"];
// What the URL holds that is not a search: which article or story is open, which saved
// search the results are (for its new-since-last-visit marks, saved.js).
const VIEW_PARAMS = ["article", "story", "saved"];
const FACETS = { source: "sources", author: "authors", language: "language", person: "person" };
const PAGE_SIZE = 20;
const MAX_DAY_BARS = 120;
const SCROLL_MARGIN_PX = 400;
const KEY_STORAGE = "newsagg.api-key";

const $ = (id) => document.getElementById(id);
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dayLabel = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeZone: "UTC" });
const relativeTime = new Intl.RelativeTimeFormat(undefined, { numeric: "auto", style: "short" });
const TIME_UNITS = [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60]];
const QUALITY_LABELS = { ok: "good only", low: "low-quality only" };
// Where a publication date came from (the API's date_source), for the date's tooltip.
const DATE_SOURCES = {
  "json-ld": "the page's structured data (JSON-LD)",
  meta: "the page's meta tags",
  url: "the page's address",
  htmldate: "the page's text",
  feed: "the feed",
  sitemap: "the sitemap",
};
const languageNames = safeDisplayNames();

let state = readState(location.search);
let nextCursor = null;
let resultCount = 0; // hits to page through: articles, or groups when copies are folded
let loading = false;
let generation = 0; // a newer render makes older responses stale

// ---- state <-> URL -------------------------------------------------------------

function readState(search) {
  const params = new URLSearchParams(search);
  const result = {};
  for (const name of SINGLE_PARAMS) result[name] = (params.get(name) || "").trim();
  for (const name of LIST_PARAMS) result[name] = unique(params.getAll(name).filter(Boolean));
  return result;
}

function stateParams(s, { withView = true } = {}) {
  const params = new URLSearchParams();
  for (const name of SINGLE_PARAMS) {
    if (s[name] && (withView || !VIEW_PARAMS.includes(name))) params.set(name, s[name]);
  }
  for (const name of LIST_PARAMS) for (const value of s[name]) params.append(name, value);
  return params;
}

function pageUrl(s) {
  const query = stateParams(s).toString();
  return query ? `?${query}` : "./";
}

function go(changes, { replace = false } = {}) {
  state = { ...state, ...changes };
  const url = pageUrl(state);
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  render();
}

function effectiveSort(s) {
  return s.sort || (s.q ? "relevance" : "date");
}

/** The API parameters of a search: the state without the view, plus what is asked. */
function apiParams(s, extra = {}, omit = []) {
  const params = stateParams(s, { withView: false });
  params.delete("sort");
  for (const name of omit) params.delete(name);
  for (const [name, value] of Object.entries(extra)) params.set(name, value);
  return params;
}

// ---- talking to the API --------------------------------------------------------

class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

async function api(path, params) {
  const url = params ? `${path}?${params}` : path;
  const headers = { Accept: "application/json" };
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (key) headers["X-API-Key"] = key;
  let response;
  try {
    response = await fetch(url, { headers });
  } catch (err) {
    throw new ApiError(0, { title: "Network error", detail: `The search service cannot be reached (${err.message}).` });
  }
  if (response.ok) return response.json();
  let problem = {};
  try {
    problem = await response.json();
  } catch {
    problem = { title: response.statusText };
  }
  throw new ApiError(response.status, problem);
}

function showError(err) {
  const box = $("error");
  box.replaceChildren();
  if (err.status === 401) {
    $("key-panel").hidden = false;
    $("api-key").focus();
  }
  const title = document.createElement("strong");
  title.textContent = err.problem?.title || "Error";
  box.append(title, document.createTextNode(": " + err.message));
  if (err.problem?.position !== undefined && state.q) {
    const where = document.createElement("pre");
    where.className = "query-position";
    where.textContent = `${state.q}\n${" ".repeat(err.problem.position)}^`;
    box.append(where);
  }
  if (err.status === 503 || err.status === 429 || err.status === 0) {
    const retry = document.createElement("button");
    retry.type = "button";
    retry.textContent = "Try again";
    retry.addEventListener("click", render);
    box.append(" ", retry);
  }
  box.hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").replaceChildren();
}

// ---- rendering -----------------------------------------------------------------

function render() {
  generation += 1;
  clearError();
  syncForm();
  const view = state.story ? "story-view" : state.article ? "article-view" : "search-view";
  for (const id of ["search-view", "article-view", "story-view"]) $(id).hidden = id !== view;
  if (state.story) renderStory(generation);
  else if (state.article) renderArticle(generation);
  else renderSearch(generation);
}

function syncForm() {
  $("q").value = state.q;
  setSelect($("source"), state.sources, "All sources");
  setSelect($("language"), state.language, "Any language", languageName);
  $("author").value = state.authors.join("; ");
  $("from").value = state.from;
  $("to").value = state.to;
  $("quality").value = state.quality;
  $("sort").value = effectiveSort(state);
  $("all-copies").checked = state.collapse === "none";
}

/** A single-choice select over a list parameter: shows "n selected" when a facet picked more. */
function setSelect(select, values, allLabel, label = (v) => v) {
  const known = new Set([...select.options].map((o) => o.value));
  for (const value of values) {
    if (!known.has(value)) select.add(new Option(label(value), value));
  }
  select.querySelector("option[data-multi]")?.remove();
  if (values.length > 1) {
    const multi = new Option(`${values.length} selected`, values.join("\n"));
    multi.dataset.multi = "1";
    select.add(multi);
  }
  select.value = values.length > 1 ? values.join("\n") : values[0] || "";
  select.options[0].textContent = allLabel;
}

async function renderSearch(gen) {
  const sort = effectiveSort(state);
  document.title = state.q ? `${state.q}: newsagg search` : "newsagg: search coverage";
  updateExportLinks();
  renderChips();
  $("results").replaceChildren();
  $("results-status").textContent = "Searching…";
  $("more").hidden = true;
  nextCursor = null;
  const params = apiParams(state, { size: PAGE_SIZE, sort, facets: Object.keys(FACETS).join(",") });
  const timeline = renderTimeline(gen);
  const marks = savedMarks();
  try {
    const page = await api("v1/search", params);
    await marks;
    if (gen !== generation) return;
    $("results-heading").textContent = summaryText(page.total, page.groups);
    appendHits(page.hits);
    nextCursor = page.next_cursor;
    resultCount = page.groups ?? page.total;
    updateMore();
    await renderFacets(page, gen);
  } catch (err) {
    if (gen !== generation) return;
    $("results-heading").textContent =
      err.status === 400 ? "The query cannot be read" : "The search failed";
    $("results-status").textContent = "";
    for (const facet of Object.keys(FACETS)) $(`facet-${facet}`).hidden = true;
    showError(err);
  }
  await timeline;
}

function summaryText(total, groups) {
  const count = `${total.toLocaleString()} ${total === 1 ? "article" : "articles"}`;
  const text = state.q ? `${count} for “${state.q}”` : `${count}, newest first`;
  return groups != null && groups < total ? `${text}; ${groups.toLocaleString()} with copies shown once` : text;
}

function appendHits(hits) {
  const list = $("results");
  const template = $("hit-template");
  for (const hit of hits) {
    const item = template.content.firstElementChild.cloneNode(true);
    const parts = metaParts(hit);
    const link = item.querySelector(".hit-title a");
    link.textContent = hit.title;
    link.href = pageUrl({ ...state, article: hit.id });
    link.dataset.articleId = hit.id;
    const notes = [
      storyLink(hit),
      copiesNote(hit),
      revisionNote(hit.revision, hit.updated_at, hit.previous_title),
      qualityMark(hit),
    ];
    for (const note of notes.filter(Boolean)) parts.push(" · ", note);
    item.querySelector(".meta").append(...parts, " · ", originalLink(hit));
    item.querySelector(".snippet").append(...markedFragment(hit.snippet));
    markIfNew(item, hit);
    list.append(item);
  }
}

function metaParts(item) {
  const parts = [];
  const source = document.createElement("span");
  source.className = "source";
  source.textContent = item.source;
  parts.push(source);
  parts.push(document.createTextNode(" · "), publicationDate(item));
  if (item.authors?.length) {
    parts.push(document.createTextNode(" · " + item.authors.join(", ")));
  }
  return parts;
}

/** The publication date, its provenance in the tooltip; "date unknown" when there is
 * none, never the crawl date in its place. */
function publicationDate(item) {
  if (!item.published_at) {
    const unknown = document.createElement("span");
    unknown.className = "date-unknown";
    unknown.textContent = "date unknown";
    unknown.title = "No publication date could be trusted: not the page's, the feed's nor the sitemap's.";
    return unknown;
  }
  const time = document.createElement("time");
  time.dateTime = item.published_at;
  time.textContent = dateTime.format(new Date(item.published_at));
  const from = DATE_SOURCES[item.date_source];
  if (from) {
    time.dataset.dateSource = item.date_source;
    const confidence = item.date_confidence == null ? "" : ` (confidence ${Math.round(item.date_confidence * 100)} %)`;
    time.title = [`date from ${from}${confidence}`, ...(item.date_notes || [])].join("\n");
  }
  return time;
}

/** "3 outlets": the story a hit belongs to, when more than its own outlet covered it. */
function storyLink(hit) {
  if (!hit.story_id || !(hit.story_sources > 1)) return null;
  const link = document.createElement("a");
  link.className = "outlets";
  link.href = pageUrl({ ...state, article: "", story: hit.story_id });
  link.textContent = `${hit.story_sources} outlets`;
  link.title = `${hit.story_size} articles from ${hit.story_sources} outlets tell this story: who was first, and when`;
  return link;
}

/** With copies folded, how many a hit stands for; with every copy shown, which are copies. */
function copiesNote(hit) {
  if (state.collapse !== "none" && hit.duplicates > 1) {
    const note = document.createElement("span");
    note.className = "copies";
    const more = hit.duplicates - 1;
    note.textContent = `+${more} ${more === 1 ? "copy" : "copies"}`;
    note.title = `${more} near-identical ${more === 1 ? "copy" : "copies"} of this text not shown: “Show all copies” lists them`;
    return note;
  }
  if (state.collapse === "none" && hit.duplicate_of) {
    const link = document.createElement("a");
    link.className = "copy-of";
    link.href = pageUrl({ ...state, article: hit.duplicate_of });
    link.textContent = "copy of an earlier article";
    return link;
  }
  return null;
}

/** "updated 2 hr ago: headline changed" for an article whose page changed since first seen. */
function revisionNote(revision, updatedAt, previousTitle) {
  if (!(revision > 1)) return null;
  const note = document.createElement("span");
  note.className = "revised";
  const when = updatedAt ? `updated ${relativeTo(updatedAt)}` : "updated";
  note.textContent = `${when}: ${previousTitle ? "headline changed" : "text changed"}`;
  note.title = [
    `revision ${revision}`,
    updatedAt ? dateTime.format(new Date(updatedAt)) : "",
    previousTitle ? `was: “${previousTitle}”` : "",
  ].filter(Boolean).join("; ");
  return note;
}

function qualityMark(item) {
  if (item.quality !== "low") return null;
  const mark = document.createElement("span");
  mark.className = "quality-low";
  mark.textContent = "low-quality extraction";
  const why = item.quality_reasons?.length ? ` (${item.quality_reasons.join(", ")})` : "";
  mark.title = `The extracted text may not be the whole article${why}: check the original.`;
  return mark;
}

function relativeTo(iso) {
  const seconds = (Date.parse(iso) - Date.now()) / 1000;
  for (const [unit, size] of TIME_UNITS) {
    if (Math.abs(seconds) >= size) return relativeTime.format(Math.round(seconds / size), unit);
  }
  return relativeTime.format(0, "minute");
}

function originalLink(hit) {
  const link = document.createElement("a");
  link.className = "original";
  link.href = safeHttpUrl(hit.url);
  link.target = "_blank";
  link.rel = "noopener noreferrer";
  link.textContent = "original ↗";
  link.setAttribute("aria-label", `${hit.title} on ${hit.source} (opens a new tab)`);
  return link;
}

function updateMore() {
  const shown = $("results").children.length;
  $("more").hidden = !nextCursor;
  $("results-status").textContent =
    shown === 0 ? "Nothing matches. Try fewer words or remove a filter." :
    nextCursor ? `Showing ${shown} of ${resultCount.toLocaleString()}.` :
    `All ${shown.toLocaleString()} shown.`;
}

async function loadMore() {
  if (!nextCursor || loading || state.article || state.story) return;
  loading = true;
  const gen = generation;
  $("more").disabled = true;
  try {
    const params = apiParams(state, {
      size: PAGE_SIZE,
      sort: effectiveSort(state),
      facets: "",
      cursor: nextCursor,
    });
    const page = await api("v1/search", params);
    if (gen !== generation) return;
    appendHits(page.hits);
    nextCursor = page.next_cursor;
    resultCount = page.groups ?? page.total;
    updateMore();
  } catch (err) {
    if (gen === generation) showError(err);
  } finally {
    loading = false;
    $("more").disabled = false;
  }
  // The observer only fires on a change: on a tall screen the button may still be in view.
  if (gen === generation && !$("more").hidden && nearViewport($("more"))) loadMore();
}

function nearViewport(element) {
  return element.getBoundingClientRect().top < window.innerHeight + SCROLL_MARGIN_PX;
}

/** Keeps only text and <mark>: the API escapes snippets, and this never trusts that. */
function markedFragment(html) {
  const template = document.createElement("template");
  template.innerHTML = html || "";
  const out = [];
  for (const node of template.content.childNodes) {
    if (node.nodeName === "MARK") {
      const mark = document.createElement("mark");
      mark.textContent = node.textContent;
      out.push(mark);
    } else {
      out.push(document.createTextNode(node.textContent));
    }
  }
  return out;
}

function safeHttpUrl(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : "#";
  } catch {
    return "#";
  }
}

// ---- facets and filters --------------------------------------------------------

async function renderFacets(page, gen) {
  for (const [facet, param] of Object.entries(FACETS)) {
    let counts = page.facets[facet] || [];
    if (state[param].length) {
      // With a value chosen, the other values' counts come from the search without it,
      // so an editor can widen to a second source instead of seeing only the first.
      try {
        const wider = await api(
          "v1/search",
          apiParams(state, { size: 1, facets: facet }, [param]),
        );
        counts = wider.facets[facet] || counts;
      } catch {
        // keep the narrower counts: the main search already succeeded
      }
      if (gen !== generation) return;
    }
    drawFacet(facet, param, counts);
  }
  fillChoices(page);
}

function drawFacet(facet, param, counts) {
  const list = $(`facet-${facet}`).querySelector("ul");
  const chosen = new Set(state[param]);
  const values = counts.map((c) => c.value);
  for (const value of chosen) if (!values.includes(value)) counts.push({ value, count: 0 });
  list.replaceChildren();
  $(`facet-${facet}`).hidden = counts.length === 0;
  for (const { value, count } of counts) {
    const item = document.createElement("li");
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = chosen.has(value);
    box.dataset.facet = facet;
    box.value = value;
    box.addEventListener("change", () => {
      const next = box.checked ? [...state[param], value] : state[param].filter((v) => v !== value);
      go({ [param]: unique(next) });
    });
    const name = document.createElement("span");
    name.className = "facet-value";
    name.textContent = facet === "language" ? languageName(value) : value;
    const number = document.createElement("span");
    number.className = "count";
    number.textContent = count.toLocaleString();
    label.append(box, name, number);
    item.append(label);
    list.append(item);
  }
}

function fillChoices(page) {
  const authors = $("author-names");
  authors.replaceChildren(...(page.facets.author || []).map((c) => new Option(c.value)));
  const languages = $("language");
  const known = new Set([...languages.options].map((o) => o.value));
  for (const { value } of page.facets.language || []) {
    if (!known.has(value)) languages.add(new Option(languageName(value), value));
  }
  setSelect(languages, state.language, "Any language", languageName);
}

async function loadSources() {
  try {
    const { sources } = await api("v1/sources");
    const select = $("source");
    const known = new Set([...select.options].map((o) => o.value));
    for (const { name } of sources) if (!known.has(name)) select.add(new Option(name, name));
    setSelect(select, state.sources, "All sources");
  } catch {
    // the list is a convenience; the facets still offer every source that has matches
  }
}

function renderChips() {
  const chips = [];
  const chip = (text, changes) => chips.push({ text, changes });
  for (const value of state.sources) chip(`Source: ${value}`, { sources: state.sources.filter((v) => v !== value) });
  for (const value of state.authors) chip(`Author: ${value}`, { authors: state.authors.filter((v) => v !== value) });
  for (const value of state.language) chip(`Language: ${languageName(value)}`, { language: state.language.filter((v) => v !== value) });
  for (const value of state.person) chip(`Person: ${value}`, { person: state.person.filter((v) => v !== value) });
  if (state.from || state.to) chip(`Published: ${state.from || "…"} to ${state.to || "…"}`, { from: "", to: "" });
  if (state.quality) chip(`Extraction: ${QUALITY_LABELS[state.quality] || state.quality}`, { quality: "" });
  const list = $("active-filters");
  list.replaceChildren();
  for (const { text, changes } of chips) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "chip";
    button.textContent = text;
    button.setAttribute("aria-label", `Remove filter ${text}`);
    button.append(Object.assign(document.createElement("span"), { textContent: " ×", ariaHidden: "true" }));
    button.addEventListener("click", () => go(changes));
    item.append(button);
    list.append(item);
  }
  if (chips.length > 1) {
    const item = document.createElement("li");
    const clear = document.createElement("button");
    clear.type = "button";
    clear.className = "chip clear";
    clear.textContent = "Clear all filters";
    clear.addEventListener("click", () => go({ sources: [], authors: [], language: [], person: [], from: "", to: "", quality: "" }));
    item.append(clear);
    list.append(item);
  }
  list.hidden = chips.length === 0;
}

function updateExportLinks() {
  const params = apiParams(state, {}, ["collapse"]);
  $("rss-link").href = `v1/search.rss?${params}`;
  params.set("format", "csv");
  $("csv-link").href = `v1/export?${params}`;
}

// ---- the coverage timeline -----------------------------------------------------

/** Counts per day of the query over all dates, so a chosen range can also be widened;
 * and whether its last 24 hours are a spike (asked once: the weekly retry reuses it). */
async function renderTimeline(gen) {
  const chart = $("timeline");
  // The last query's bars go with its results: a bar chosen before this query's timeline
  // came would narrow the new query by a day of the old one.
  chart.replaceChildren();
  let data;
  let spike;
  try {
    const params = apiParams(state, { interval: "day", spike: "true" }, ["from", "to", "collapse"]);
    data = await api("v1/timeline", params);
    spike = data.spike;
    if (data.buckets.length > MAX_DAY_BARS) {
      params.set("interval", "week");
      params.delete("spike");
      data = await api("v1/timeline", params);
    }
  } catch (err) {
    if (gen === generation) {
      $("timeline-caption").textContent = `No timeline: ${err.message}`;
      showSpike(null);
    }
    return;
  }
  if (gen !== generation) return;
  const weekly = data.interval === "week";
  const spiking = spike && spike.spike ? spike : null;
  const step = (weekly ? 7 : 1) * 86400000;
  const max = Math.max(1, ...data.buckets.map((b) => b.count));
  const bars = data.buckets.map((bucket, index) => {
    const start = bucket.start.slice(0, 10);
    const end = weekly ? addDays(start, 6) : start;
    const recent = Boolean(spiking) && Date.parse(bucket.start) + step > Date.parse(spiking.recent_start);
    const bar = document.createElement("button");
    bar.type = "button";
    bar.className = recent ? "bar spike" : "bar";
    bar.tabIndex = index === 0 ? 0 : -1;
    bar.dataset.start = start;
    bar.dataset.end = end;
    const when = weekly ? `week of ${dayLabel.format(new Date(start))}` : dayLabel.format(new Date(start));
    const label =
      `${when}: ${bucket.count} ${bucket.count === 1 ? "article" : "articles"}` +
      (recent ? ", includes the last 24 hours: a spike" : "");
    bar.setAttribute("aria-label", label);
    bar.title = label;
    const fill = document.createElement("span");
    fill.className = "fill";
    fill.style.height = `${(bucket.count / max) * 100}%`;
    bar.append(fill);
    const chosen = Boolean(state.from || state.to) && inRange(start, end);
    bar.classList.toggle("selected", chosen);
    bar.setAttribute("aria-pressed", String(chosen));
    bar.addEventListener("click", () => {
      const same = state.from === start && state.to === end;
      go(same ? { from: "", to: "" } : { from: start, to: end });
    });
    return bar;
  });
  chart.replaceChildren(...bars);
  const selected = bars.findIndex((b) => b.classList.contains("selected"));
  if (selected > 0) {
    bars[0].tabIndex = -1;
    bars[selected].tabIndex = 0;
  }
  $("axis-start").textContent = bars.length ? dayLabel.format(new Date(bars[0].dataset.start)) : "";
  $("axis-end").textContent = bars.length > 1 ? dayLabel.format(new Date(bars.at(-1).dataset.start)) : "";
  const unit = weekly ? "week" : "day";
  $("timeline-caption").textContent = bars.length
    ? `Matching articles per ${unit} (UTC), tallest bar ${max}. Choose a bar to show only that ${unit}; choose it again to show all dates.` +
      (data.undated ? ` ${data.undated} without a date are not charted.` : "")
    : "No dated articles match.";
  showSpike(spiking);
}

/** The spike's figures and rule under the chart, or nothing when there is none. */
function showSpike(spike) {
  const note = $("timeline-spike");
  note.hidden = !spike;
  if (!spike) {
    note.replaceChildren();
    return;
  }
  const days = spike.baseline_hours / 24;
  const figures = document.createElement("strong");
  figures.textContent =
    `Spike: ${spike.last_24h} articles in the last 24 hours against ${spike.baseline_daily_mean.toFixed(1)} a day ` +
    `over the ${Number.isInteger(days) ? days : days.toFixed(1)} days before (a spike from ${spike.threshold}).`;
  const rule = document.createElement("span");
  rule.textContent = ` The striped bars include the last 24 hours. ${spike.rule}`;
  note.replaceChildren(figures, rule);
}

function inRange(start, end) {
  return (!state.from || end >= state.from) && (!state.to || start <= state.to);
}

function addDays(isoDay, days) {
  const day = new Date(`${isoDay}T00:00:00Z`);
  day.setUTCDate(day.getUTCDate() + days);
  return day.toISOString().slice(0, 10);
}

/** One tab stop for the whole chart; arrow keys move between bars (a roving tabindex). */
function onChartKey(event) {
  const bars = [...$("timeline").querySelectorAll(".bar")];
  const index = bars.indexOf(document.activeElement);
  if (index < 0) return;
  const moves = { ArrowLeft: index - 1, ArrowRight: index + 1, Home: 0, End: bars.length - 1 };
  if (!(event.key in moves)) return;
  event.preventDefault();
  const target = bars[Math.max(0, Math.min(bars.length - 1, moves[event.key]))];
  bars[index].tabIndex = -1;
  target.tabIndex = 0;
  target.focus();
}

// ---- the story view ------------------------------------------------------------

/** One story: its articles in the order they came out, the first publisher marked. */
async function renderStory(gen) {
  $("story-back-link").href = pageUrl({ ...state, story: "" });
  $("story-title").textContent = "Loading…";
  $("story-meta").replaceChildren();
  $("story-articles").replaceChildren();
  $("story-people").replaceChildren();
  $("story-status").textContent = "";
  $("story-people-section").hidden = true;
  let story;
  try {
    story = await api(`v1/stories/${encodeURIComponent(state.story)}`);
  } catch (err) {
    if (gen !== generation) return;
    $("story-title").textContent = err.status === 404 ? "Story not found" : "Story unavailable";
    showError(err);
    return;
  }
  if (gen !== generation) return;
  document.title = `${story.title}: newsagg story`;
  $("story-title").textContent = story.title;
  $("story-title").focus();
  const first = document.createElement("span");
  first.className = "source";
  first.textContent = story.first_publisher;
  const firstSeen = Object.assign(document.createElement("time"), {
    dateTime: story.first_seen,
    textContent: dateTime.format(new Date(story.first_seen)),
  });
  const articles = `${story.size.toLocaleString()} ${story.size === 1 ? "article" : "articles"}`;
  const outlets = `${story.sources.length} ${story.sources.length === 1 ? "outlet" : "outlets"}`;
  $("story-meta").append(`${articles} from ${outlets} · first: `, first, ", ", firstSeen);
  const firstAt = Date.parse(story.first_seen);
  $("story-articles").replaceChildren(...story.articles.map((hit) => storyItem(hit, hit.url === story.first_url, firstAt)));
  if (story.articles.length < story.size) {
    $("story-status").textContent = `The first ${story.articles.length} of ${story.size.toLocaleString()} articles.`;
  }
  $("story-people").replaceChildren(
    ...story.people.map((name) => {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = pageUrl({ ...state, story: "", article: "", person: [name] });
      link.textContent = name;
      link.setAttribute("aria-label", `Search articles about ${name}`);
      item.append(link);
      return item;
    }),
  );
  $("story-people-section").hidden = story.people.length === 0;
}

function storyItem(hit, isFirst, firstAt) {
  const item = document.createElement("li");
  item.className = isFirst ? "story-article first" : "story-article";
  const when = document.createElement("p");
  when.className = "meta";
  when.append(publicationDate(hit));
  if (isFirst) {
    when.append(" · ", Object.assign(document.createElement("strong"), { className: "first-mark", textContent: "first published" }));
  } else if (hit.published_at && Date.parse(hit.published_at) > firstAt) {
    when.append(` · ${laterBy(Date.parse(hit.published_at) - firstAt)} later`);
  }
  const source = Object.assign(document.createElement("span"), { className: "source", textContent: hit.source });
  const link = document.createElement("a");
  link.href = pageUrl({ ...state, story: "", article: hit.id });
  link.textContent = hit.title;
  const headline = document.createElement("p");
  headline.className = "story-headline";
  headline.append(source, ": ", link);
  if (hit.duplicate_of) headline.append(" ", Object.assign(document.createElement("span"), { className: "copies", textContent: "copy" }));
  item.append(when, headline);
  return item;
}

/** "40 min", "3 hr", "2 days": how long after the first publisher. */
function laterBy(ms) {
  const seconds = ms / 1000;
  for (const [unit, size] of TIME_UNITS) {
    if (seconds >= size) return new Intl.NumberFormat(undefined, { style: "unit", unit, unitDisplay: "short" }).format(Math.round(seconds / size));
  }
  return "under a minute";
}

// ---- the article view ----------------------------------------------------------

async function renderArticle(gen) {
  $("back-link").href = pageUrl({ ...state, article: "" });
  $("article-title").textContent = "Loading…";
  $("article-meta").replaceChildren();
  $("article-body").replaceChildren();
  $("similar").replaceChildren();
  $("article-changes").hidden = true;
  $("article-original").hidden = true;
  $("similar-section").hidden = true;
  let article;
  try {
    article = await api(`v1/articles/${encodeURIComponent(state.article)}`);
  } catch (err) {
    if (gen !== generation) return;
    $("article-title").textContent = err.status === 404 ? "Article not found" : "Article unavailable";
    showError(err);
    return;
  }
  if (gen !== generation) return;
  document.title = `${article.title}: newsagg`;
  $("article-title").textContent = article.title;
  $("article-title").focus();
  const meta = metaParts(article);
  if (article.section) meta.push(document.createTextNode(` · ${article.section}`));
  meta.push(document.createTextNode(` · ${article.word_count.toLocaleString()} words`));
  const quality = qualityMark(article);
  if (quality) meta.push(" · ", quality);
  $("article-meta").append(...meta);
  $("article-original").href = safeHttpUrl(article.url);
  $("article-original").hidden = false;
  $("similar-section").hidden = false;
  const words = queryWords(state.q);
  const paragraphs = article.text.split(/\n+/).filter((p) => p.trim());
  $("article-body").append(
    ...paragraphs.map((text) => {
      const p = document.createElement("p");
      p.append(...highlight(text, words));
      return p;
    }),
  );
  if (article.revision > 1) await renderChanges(gen);
  if (article.story_id) await renderStoryNote(article, gen);
  try {
    const similar = await api(`v1/articles/${encodeURIComponent(state.article)}/similar`, new URLSearchParams({ size: 8 }));
    if (gen !== generation) return;
    const items = similar.hits.map((hit) => {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = pageUrl({ ...state, article: hit.id });
      link.textContent = hit.title;
      const meta = document.createElement("p");
      meta.className = "meta";
      meta.append(...metaParts(hit));
      item.append(link, meta);
      return item;
    });
    if (!items.length) items.push(Object.assign(document.createElement("li"), { textContent: "Nothing similar found." }));
    $("similar").replaceChildren(...items);
  } catch (err) {
    if (gen === generation) $("similar").replaceChildren(Object.assign(document.createElement("li"), { textContent: `Unavailable: ${err.message}` }));
  }
}

/** "Covered by 3 outlets" under an article whose story others covered too; its original, if a copy. */
async function renderStoryNote(article, gen) {
  let story;
  try {
    story = await api(`v1/stories/${encodeURIComponent(article.story_id)}`);
  } catch {
    return; // the article reads the same without its story
  }
  if (gen !== generation) return;
  const notes = [];
  if (story.sources.length > 1) {
    const link = document.createElement("a");
    link.className = "outlets";
    link.href = pageUrl({ ...state, article: "", story: story.id });
    link.textContent = `covered by ${story.sources.length} outlets`;
    notes.push(link);
  }
  if (article.duplicate_of) {
    const original = story.articles.find((hit) => hit.id === article.duplicate_of);
    const link = document.createElement("a");
    link.className = "copy-of";
    link.href = pageUrl({ ...state, article: article.duplicate_of });
    link.textContent = original ? `copy of ${original.source}'s article` : "copy of an earlier article";
    notes.push(link);
  }
  for (const note of notes) $("article-meta").append(" · ", note);
}

/** What changed in the article's last revision: when, the old headline, the text diff. */
async function renderChanges(gen) {
  let revisions;
  try {
    revisions = await api(`v1/articles/${encodeURIComponent(state.article)}/revisions`);
  } catch {
    return; // the article reads the same without its history
  }
  const change = revisions.last_change;
  if (gen !== generation || !change) return;
  const note = revisionNote(revisions.revision, revisions.updated_at, change.previous_title);
  const was = change.previous_title ? ` (was “${change.previous_title}”)` : "";
  $("change-note").replaceChildren(note, was);
  $("change-summary").textContent = `What changed from revision ${change.from_revision} to ${change.to_revision}`;
  const lines = change.diff.split("\n").filter((line) => line && !line.startsWith("---") && !line.startsWith("+++"));
  $("change-diff").replaceChildren(
    ...lines.map((line) => {
      const row = document.createElement("span");
      row.className = line.startsWith("+") ? "added" : line.startsWith("-") ? "removed" : line.startsWith("@@") ? "hunk" : "same";
      row.textContent = `${line}\n`;
      return row;
    }),
    ...(change.diff_truncated ? [Object.assign(document.createElement("span"), { className: "hunk", textContent: "… (the rest is cut)\n" })] : []),
  );
  $("article-changes").hidden = false;
}

/** The plain words of a query, for marking them in the article text. */
function queryWords(q) {
  return (q || "")
    .replace(/\b(title|author|source):/gi, " ")
    .split(/[\s"()]+/)
    .filter((w) => w && w !== "OR" && !w.startsWith("-"))
    .map((w) => w.replace(/[^\p{L}\p{N}'-]/gu, ""))
    .filter((w) => w.length > 1);
}

function highlight(text, words) {
  if (!words.length) return [document.createTextNode(text)];
  const escaped = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const pattern = new RegExp(`(?<![\\p{L}\\p{N}])(${escaped.join("|")})(?![\\p{L}\\p{N}])`, "giu");
  const out = [];
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    out.push(document.createTextNode(text.slice(last, match.index)));
    out.push(Object.assign(document.createElement("mark"), { textContent: match[0] }));
    last = match.index + match[0].length;
  }
  out.push(document.createTextNode(text.slice(last)));
  return out;
}

// ---- helpers and wiring --------------------------------------------------------

function unique(values) {
  return [...new Set(values)];
}

function safeDisplayNames() {
  try {
    return new Intl.DisplayNames(undefined, { type: "language" });
  } catch {
    return null;
  }
}

function languageName(code) {
  try {
    const name = languageNames?.of(code);
    return name && name !== code ? `${name} (${code})` : code;
  } catch {
    return code;
  }
}

function formState() {
  const pick = (select) => (select.value ? select.value.split("\n") : []);
  return {
    q: $("q").value.trim(),
    sources: pick($("source")),
    language: pick($("language")),
    authors: unique($("author").value.split(";").map((a) => a.trim()).filter(Boolean)),
    from: $("from").value,
    to: $("to").value,
    quality: $("quality").value,
    // The sort menu shows the default when none was chosen; keep it unchosen, so a new
    // query gets its own default (best match with words, newest without).
    sort: $("sort").value === effectiveSort({ ...state, sort: "" }) ? "" : $("sort").value,
    article: "",
    story: "",
    saved: "",
  };
}

function wire() {
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    go(formState());
    $("results-heading").focus({ preventScroll: true });
  });
  for (const id of ["source", "language", "from", "to", "quality", "sort"]) {
    $(id).addEventListener("change", () => go(formState()));
  }
  $("author").addEventListener("change", () => go(formState()));
  $("more").addEventListener("click", loadMore);
  $("all-copies").addEventListener("change", () => go({ collapse: $("all-copies").checked ? "none" : "" }));
  $("timeline").addEventListener("keydown", onChartKey);
  new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadMore();
  }, { rootMargin: `${SCROLL_MARGIN_PX}px` }).observe($("more"));
  document.addEventListener("click", (event) => {
    // Links to other views of this page change the state without a reload.
    const link = event.target.closest("a");
    if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    if (link.origin !== location.origin || link.pathname !== location.pathname || link.target) return;
    event.preventDefault();
    state = readState(link.search);
    history.pushState(null, "", pageUrl(state));
    window.scrollTo(0, 0);
    render();
  });
  window.addEventListener("popstate", () => {
    state = readState(location.search);
    render();
  });
  $("copy-link").addEventListener("click", async () => {
    const button = $("copy-link");
    try {
      await navigator.clipboard.writeText(location.href);
      button.textContent = "Link copied";
    } catch {
      window.prompt("Copy this link:", location.href);
    }
    setTimeout(() => { button.textContent = "Copy link"; }, 2000);
  });
  $("csv-link").addEventListener("click", downloadWithKey);
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY_STORAGE, $("api-key").value.trim());
    $("key-panel").hidden = true;
    loadSources();
    render();
  });
  if (window.matchMedia("(max-width: 48rem)").matches) {
    $("facets-panel").open = false;
    $("filters-panel").open = false;
  }
}

/** A plain link cannot send the API key header: with a key, fetch the file instead. */
async function downloadWithKey(event) {
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (!key) return;
  event.preventDefault();
  const response = await fetch(event.currentTarget.href, { headers: { "X-API-Key": key } });
  if (!response.ok) {
    showError(new ApiError(response.status, await response.json().catch(() => ({}))));
    return;
  }
  const url = URL.createObjectURL(await response.blob());
  const link = Object.assign(document.createElement("a"), { href: url, download: "newsagg-export.csv" });
  document.body.append(link);
  link.click();
  link.remove();
  URL.revokeObjectURL(url);
}

wire();
loadSources();
render();
