// Follow the newest text only while the reader is at the bottom. Content growth
// fires no scroll event, so once they scroll up to read, nothing pulls them down.

const SLACK_PX = 48;

export class AutoScroll {
  constructor(scroller, jumpButton) {
    this.scroller = scroller;
    this.jump = jumpButton;
    this.pinned = true;
    scroller.addEventListener("scroll", () => {
      this.pinned = this.atBottom();
      this.jump.hidden = this.pinned;
    }, { passive: true });
    jumpButton.addEventListener("click", () => this.toBottom());
  }

  atBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight <= SLACK_PX;
  }

  /** After content changed: keep up if pinned, else offer the jump button. */
  update() {
    if (this.pinned) this.scroller.scrollTop = this.scroller.scrollHeight;
    else this.jump.hidden = this.atBottom();
  }

  /** The reader acted (sent, opened a chat): go to the bottom and follow again. */
  toBottom() {
    this.pinned = true;
    this.jump.hidden = true;
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }
}
