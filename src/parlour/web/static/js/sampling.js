// The sampling parameters' number fields, shared by the chat settings panel and the
// persona editor: one list of names, and one way to read a field ("" is "not set").
export const SAMPLING = ["temperature", "top_p", "max_tokens", "presence_penalty", "frequency_penalty", "seed"];
const INTEGERS = new Set(["max_tokens", "seed"]);

/** The fields whose ids are `${prefix}${name}`, as a request body: null where empty. */
export function readSampling(prefix) {
  const body = {};
  for (const name of SAMPLING) {
    const raw = document.getElementById(`${prefix}${name}`).value.trim();
    body[name] = raw === "" ? null : INTEGERS.has(name) ? Number.parseInt(raw, 10) : Number(raw);
    if (raw !== "" && !Number.isFinite(body[name])) body[name] = raw; // the server says why
  }
  return body;
}

/** Put `values` (a parameters object, null where not set) into the fields. */
export function fillSampling(prefix, values) {
  for (const name of SAMPLING) document.getElementById(`${prefix}${name}`).value = values?.[name] ?? "";
}
