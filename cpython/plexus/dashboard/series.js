// Time-ordered readings of one metric in two typed arrays (no object per
// reading), so 20 metrics at 50 Hz cost no garbage. Old readings fall off the
// front once they are older than `keepMs` behind the newest.

export class Series {
  constructor(capacity = 32768, keepMs = 5 * 60 * 1000) {
    this.t = new Float64Array(capacity);
    this.v = new Float64Array(capacity);
    this.start = 0;
    this.end = 0;
    this.keepMs = keepMs;
    this.version = 0; // bumped on every change so charts know when to redraw
  }

  get length() {
    return this.end - this.start;
  }

  get lastTime() {
    return this.end > this.start ? this.t[this.end - 1] : -Infinity;
  }

  get lastValue() {
    return this.end > this.start ? this.v[this.end - 1] : NaN;
  }

  // First index whose time is >= ts.
  lowerBound(ts) {
    let lo = this.start, hi = this.end;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.t[mid] < ts) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  add(ts, value) {
    if (this.end === this.t.length) this.compact();
    if (ts >= this.lastTime) {
      if (ts === this.lastTime && this.v[this.end - 1] === value) return; // replayed reading
      this.t[this.end] = ts;
      this.v[this.end] = value;
      this.end++;
    } else {
      // Late reading (history loaded after live ones, or a replay): insert in order.
      const i = this.lowerBound(ts);
      if (i < this.end && this.t[i] === ts && this.v[i] === value) return;
      if (i === this.start && this.length && ts < this.lastTime - this.keepMs) return;
      this.t.copyWithin(i + 1, i, this.end);
      this.v.copyWithin(i + 1, i, this.end);
      this.t[i] = ts;
      this.v[i] = value;
      this.end++;
    }
    this.version++;
  }

  // Merge a block of time-ordered readings (history) in one pass, skipping
  // readings already held.
  merge(ts, vs) {
    const n = ts.length;
    if (!n) return;
    const oldT = this.t.slice(this.start, this.end), oldV = this.v.slice(this.start, this.end);
    const total = oldT.length + n;
    if (total > this.t.length) {
      let cap = this.t.length;
      while (cap < total) cap *= 2;
      this.t = new Float64Array(cap);
      this.v = new Float64Array(cap);
    }
    let i = 0, j = 0, k = 0;
    while (i < oldT.length || j < n) {
      const takeOld = j >= n || (i < oldT.length && oldT[i] <= ts[j]);
      const t = takeOld ? oldT[i] : ts[j];
      const v = takeOld ? oldV[i++] : vs[j++];
      if (k && this.t[k - 1] === t && this.v[k - 1] === v) continue;
      this.t[k] = t;
      this.v[k] = v;
      k++;
    }
    this.start = 0;
    this.end = k;
    this.version++;
  }

  // Drop what is too old, then move the rest to the front of the arrays.
  compact() {
    const cut = this.lowerBound(this.lastTime - this.keepMs);
    let from = Math.max(cut, this.start);
    if (this.end - from > this.t.length * 0.75) from = this.end - Math.floor(this.t.length * 0.75);
    this.t.copyWithin(0, from, this.end);
    this.v.copyWithin(0, from, this.end);
    this.end -= from;
    this.start = 0;
  }
}
