// Only the messages near the viewport are built. With every message's DOM in the page,
// each frame of a scroll costs in proportion to the conversation's length (style,
// pre-paint, paint and hit testing walk all of it), so past a few dozen messages those
// more than a screen away are light: an item of their last measured height (or a guess)
// that keeps its id, role class, place and author heading, and nothing else. Built ones
// become light again when they go far, except the last few, a streaming reply, one being
// edited, and one holding the focus or the selection.
//
// Which messages are near is found on each scroll by a binary search of the items'
// positions (a few reads of a clean layout), not by observing every item: an
// IntersectionObserver checks each of its targets every frame, the kind of cost this
// avoids. The work runs in the scroll event, before the frame is laid out and painted,
// so a message coming into view is built in that same frame.
//
// Building a message changes its height. Above the viewport that would move what the
// reader is looking at, so the first message in view (or the one asked for) is put back
// where it was; at the bottom, the list stays at the bottom (AutoScroll follows a reply).

export const TAIL = 4; // the last messages, always built
export const WHOLE = 60; // a conversation of up to this many is built whole (cheap enough)
const MARGIN = 1; // screens above and below the viewport that are built

function held(view, selection) {
  if (view.streaming || view.editing || view.typing || view.frame) return true;
  if (view.li.contains(document.activeElement)) return true;
  return Boolean(selection?.rangeCount && !selection.isCollapsed && selection.getRangeAt(0).intersectsNode(view.li));
}

export class MessageWindow {
  constructor(list, scroll) {
    this.list = list;
    this.scroll = scroll;
    this.frame = 0;
    scroll.scroller.addEventListener("scroll", () => this.update(), { passive: true });
    new ResizeObserver(() => this.schedule()).observe(scroll.scroller);
  }

  /** Look again on the next frame (views came or went). */
  schedule() {
    this.frame ||= requestAnimationFrame(() => {
      this.frame = 0;
      this.update();
    });
  }

  /** The index of the first view whose item ends below `y` (viewport coordinates). */
  firstBelow(y) {
    const views = this.list.views;
    let lo = 0;
    let hi = views.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (views[mid].li.getBoundingClientRect().bottom > y) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** The first item that begins inside the viewport (else the one across its top). */
  firstInView(box) {
    const views = this.list.views;
    const i = this.firstBelow(box.top);
    const next = views[i + 1]?.li;
    if (next && views[i].li.getBoundingClientRect().top < box.top && next.getBoundingClientRect().top < box.bottom) {
      return next;
    }
    return views[i]?.li ?? null;
  }

  /** Build the views near the viewport and lighten the far ones; `anchor` (an item) stays put. */
  update(anchor = null) {
    const views = this.list.views;
    const scroller = this.scroll.scroller;
    if (!views.length || !scroller.clientHeight) return; // hidden: nothing can be measured
    const box = scroller.getBoundingClientRect();
    const margin = scroller.clientHeight * MARGIN;
    const first = this.firstBelow(box.top - margin);
    let end = this.firstBelow(box.bottom + margin);
    // The first view below the margin may begin inside it.
    if (end < views.length && views[end].li.getBoundingClientRect().top < box.bottom + margin) end++;
    const near = new Set(views.length <= WHOLE ? views : views.slice(first, end));
    for (const view of views.slice(-TAIL)) near.add(view);
    const selection = document.getSelection();
    const far = views.filter((v) => v.built && !near.has(v) && !held(v, selection));
    const coming = [...near].filter((v) => !v.built);
    if (!far.length && !coming.length) return;
    const following = this.scroll.pinned && this.scroll.atBottom(); // (a jump just made is not)
    anchor ??= this.firstInView(box);
    const before = anchor?.getBoundingClientRect().top ?? 0;
    // Measure every far one before changing any: one layout.
    const heights = far.map((v) => v.li.getBoundingClientRect().height);
    far.forEach((view, i) => view.lighten(heights[i]));
    for (const view of coming) this.list.build(view);
    if (following) scroller.scrollTop = scroller.scrollHeight;
    else if (anchor) {
      const shift = anchor.getBoundingClientRect().top - before;
      if (shift) scroller.scrollTop += shift;
    }
  }
}
