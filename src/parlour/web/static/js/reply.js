// One reply being received: from the POST that sends (or regenerates) a message,
// or from GET .../reply?reply_id when attaching to one already running. If the stream breaks
// before `done` or `failure`, it resumes with GET .../reply?reply_id&after=<last id>,
// backing off, until the reply ends, is gone (204 No Content), or the reader leaves.
import { api, ApiError, isAbort } from "./api.js";
import { readEvents } from "./sse.js";

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
const MAX_ATTEMPTS = 12;

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      window.removeEventListener("online", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    window.addEventListener("online", done); // back online: try at once
    signal.addEventListener("abort", done);
  });
}

export class ReplyStream {
  /**
   * handlers: onStart(data), onText(fullText), onReasoning(fullThinking), onReconnecting(bool),
   * onEnd({status: "complete"|"partial"|"error"|"gone", finishReason, messageId, error,
   *        reasoningSeconds})
   */
  constructor(sessionId, handlers) {
    this.sessionId = sessionId;
    this.handlers = handlers;
    this.text = "";
    this.reasoning = ""; // a reasoning model's thinking, apart from the answer
    this.replyId = null;
    this.lastId = 0;
    this.ended = false;
    this.abort = new AbortController();
  }

  get signal() {
    return this.abort.signal;
  }

  /** Send `content`; throws ApiError if the server refuses before the reply starts. */
  async send(content, options) {
    const response = await api.send(this.sessionId, content, options, this.signal);
    this.run(response);
  }

  /** Write reply `messageId` again (default: the last one); the old reply is kept. */
  async regenerate(messageId) {
    const response = await api.regenerate(this.sessionId, messageId, this.signal);
    this.run(response);
  }

  /** Attach to the running reply `replyId` from its first event; false when it has gone. */
  async attach(replyId) {
    this.replyId = replyId;
    const response = await api.follow(this.sessionId, { replyId, signal: this.signal });
    if (response.status === 204) return false;
    this.run(response);
    return true;
  }

  /** Stop listening (the reply itself goes on; it can be attached to again). */
  detach() {
    this.abort.abort();
  }

  async run(response) {
    try {
      await this.pump(response);
      if (!this.ended) await this.resume();
    } catch (err) {
      if (!isAbort(err)) this.end({ status: "error", error: { code: "connection_lost" } });
    }
  }

  async pump(response) {
    try {
      for await (const event of readEvents(response)) {
        this.handle(event);
        if (this.ended) return;
      }
    } catch (err) {
      if (this.signal.aborted) throw err;
      // A broken body stream: fall through and resume.
    }
  }

  async resume() {
    let attempt = 0;
    while (!this.ended && !this.signal.aborted) {
      if (attempt >= MAX_ATTEMPTS) {
        this.end({ status: "error", error: { code: "connection_lost" } });
        return;
      }
      this.handlers.onReconnecting?.(true);
      await sleep(BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)], this.signal);
      if (this.signal.aborted) return;
      attempt++;
      let response;
      try {
        response = await api.follow(this.sessionId, {
          replyId: this.replyId,
          after: this.lastId,
          signal: this.signal,
        });
      } catch (err) {
        if (isAbort(err)) return;
        if (err instanceof ApiError && err.status === 404) {
          // The conversation itself has gone (deleted in another tab).
          this.end({ status: "gone" });
          return;
        }
        continue;
      }
      if (response.status === 204) {
        // Finished (or expired) while we were away: the stored messages have it.
        this.end({ status: "gone" });
        return;
      }
      this.handlers.onReconnecting?.(false);
      const before = this.lastId;
      await this.pump(response);
      if (this.lastId > before) attempt = 0; // progress: start the backoff afresh
    }
  }

  handle({ event, data, id }) {
    // An event's id is "<reply id>:<n>".
    const seq = Number.parseInt(id?.slice(id.lastIndexOf(":") + 1) ?? "", 10);
    if (Number.isFinite(seq)) {
      if (seq <= this.lastId) return; // already seen (a resume may overlap)
      this.lastId = seq;
    }
    let body;
    try {
      body = JSON.parse(data);
    } catch {
      return;
    }
    if (event === "start") {
      this.replyId = body.reply_id ?? this.replyId;
      this.handlers.onStart?.(body);
    } else if (event === "delta") {
      this.text += body.content ?? "";
      this.handlers.onText?.(this.text);
    } else if (event === "reasoning") {
      if (body.replace_answer) {
        // The answer so far was thinking (the model's template opened the tag): it moves.
        this.text = "";
        this.handlers.onText?.(this.text);
      }
      this.reasoning += body.content ?? "";
      this.handlers.onReasoning?.(this.reasoning);
    } else if (event === "done") {
      const status = body.finish_reason === "stopped" ? "partial" : "complete";
      this.end({
        status, finishReason: body.finish_reason, messageId: body.message_id,
        reasoningSeconds: body.reasoning_seconds,
      });
    } else if (event === "failure" && body.code === "server_restarting") {
      // The server we read from is stopping; the reply goes on: resume elsewhere.
      this.handlers.onReconnecting?.(true);
    } else if (event === "failure") {
      this.end({
        status: "error", messageId: body.message_id, error: body, reasoningSeconds: body.reasoning_seconds,
      });
    }
  }

  end(result) {
    if (this.ended) return;
    this.ended = true;
    this.handlers.onReconnecting?.(false);
    this.handlers.onEnd?.(result);
  }
}
