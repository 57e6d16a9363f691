// The browser peer's store (part of /fugitive.js): a memory LRU in front of IndexedDB.

import { hex, fromHex, sameBytes, sha256 } from "./codec.js";

/**
 * A memory LRU bounded in bytes in front of IndexedDB (when the page has it), which is
 * bounded in bytes too: `meta` keeps each blob's size and last use, and the least recently
 * used blobs (and the URLs that map to them) go when a new one would pass `diskBytes`.
 * What IndexedDB holds is loaded at open, so a reloaded page announces it again.
 */
export class Store {
  constructor(memoryBytes, databaseName, diskBytes = 256 << 20) {
    this.memoryBytes = memoryBytes;
    this.diskBytes = diskBytes;
    this.used = 0;
    /** @type {Map<string, {bytes: Uint8Array, type: string|null}>} hex digest → entry, oldest first */
    this.memory = new Map();
    /** @type {Map<string, {digest: string, type: string|null}>} url → hex digest */
    this.urls = new Map();
    /** @type {Map<string, {size: number, used: number}>} hex digest → what IndexedDB holds, least recently used first */
    this.disk = new Map();
    this.diskUsed = 0;
    this.database = databaseName && typeof indexedDB !== "undefined" ? this.open(databaseName).then((db) => this.load(db)) : Promise.resolve(null);
  }

  open(name) {
    return new Promise((resolve) => {
      const request = indexedDB.open(name, 2);
      request.onupgradeneeded = () => {
        const db = request.result;
        for (const store of ["blobs", "urls", "meta"]) if (!db.objectStoreNames.contains(store)) db.createObjectStore(store);
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => resolve(null);
    });
  }

  /** Reads what the database holds: sizes and uses, and the URLs (for re-announcement). */
  async load(db) {
    if (!db) return null;
    await new Promise((resolve) => {
      const tx = db.transaction(["meta", "urls"], "readonly");
      tx.objectStore("meta").openCursor().onsuccess = (event) => {
        const cursor = event.target.result;
        if (!cursor) return;
        this.disk.set(cursor.key, cursor.value);
        cursor.continue();
      };
      tx.objectStore("urls").openCursor().onsuccess = (event) => {
        const cursor = event.target.result;
        if (!cursor) return;
        if (!this.urls.has(cursor.key)) this.urls.set(cursor.key, cursor.value);
        cursor.continue();
      };
      tx.oncomplete = tx.onerror = tx.onabort = resolve;
    });
    this.disk = new Map([...this.disk].sort((a, b) => a[1].used - b[1].used));
    this.diskUsed = [...this.disk.values()].reduce((sum, entry) => sum + entry.size, 0);
    // URLs whose blob is gone (evicted, or never written) are forgotten.
    for (const [url, { digest }] of [...this.urls]) if (!this.disk.has(digest)) this.urls.delete(url);
    return db;
  }

  async transaction(stores, mode, work) {
    const db = await this.database;
    if (!db) return undefined;
    return new Promise((resolve) => {
      const tx = db.transaction(stores, mode);
      let result;
      tx.oncomplete = () => resolve(result);
      tx.onerror = tx.onabort = () => resolve(undefined);
      work(tx, (value) => { result = value; });
    });
  }

  remember(key, entry) {
    if (this.memory.has(key)) { this.used -= this.memory.get(key).bytes.length; this.memory.delete(key); }
    if (entry.bytes.length > this.memoryBytes) return;
    this.memory.set(key, entry);
    this.used += entry.bytes.length;
    for (const [oldest, value] of this.memory) {
      if (this.used <= this.memoryBytes) break;
      this.memory.delete(oldest);
      this.used -= value.bytes.length;
    }
  }

  /** Bytes for a digest: memory, else IndexedDB (re-hashed: the disk is not trusted either). */
  async get(digest) {
    const key = hex(digest);
    const hit = this.memory.get(key);
    if (hit) {
      this.memory.delete(key);
      this.memory.set(key, hit);
      return { ...hit, tier: "memory" };
    }
    const stored = await this.transaction(["blobs"], "readonly", (tx, done) => {
      const request = tx.objectStore("blobs").get(key);
      request.onsuccess = () => done(request.result);
    });
    if (!stored) return null;
    if (!(stored.bytes instanceof Uint8Array) || !sameBytes(await sha256(stored.bytes), digest)) {
      // Corrupted or truncated on disk: dropped, so that it is neither served nor announced.
      await this.drop([key]);
      return null;
    }
    this.remember(key, stored);
    this.touch(key);
    return { ...stored, tier: "disk" };
  }

  /** Marks `key` used now (its place in the LRU, and in `meta`). */
  touch(key) {
    const entry = this.disk.get(key);
    if (!entry) return;
    entry.used = Date.now();
    this.disk.delete(key);
    this.disk.set(key, entry);
    this.transaction(["meta"], "readwrite", (tx) => tx.objectStore("meta").put(entry, key));
  }

  /** Removes blobs from IndexedDB and memory, with the URLs that map to them. */
  async drop(keys) {
    const gone = new Set(keys);
    for (const key of gone) {
      this.diskUsed -= this.disk.get(key)?.size ?? 0;
      this.disk.delete(key);
      if (this.memory.has(key)) { this.used -= this.memory.get(key).bytes.length; this.memory.delete(key); }
    }
    const urls = [...this.urls].filter(([, { digest }]) => gone.has(digest)).map(([url]) => url);
    for (const url of urls) this.urls.delete(url);
    await this.transaction(["blobs", "meta", "urls"], "readwrite", (tx) => {
      for (const key of gone) { tx.objectStore("blobs").delete(key); tx.objectStore("meta").delete(key); }
      for (const url of urls) tx.objectStore("urls").delete(url);
    });
  }

  async lookup(url) {
    const known = this.urls.get(url);
    if (known) return known;
    return await this.transaction(["urls"], "readonly", (tx, done) => {
      const request = tx.objectStore("urls").get(url);
      request.onsuccess = () => done(request.result);
    }) ?? null;
  }

  async put(digest, bytes, type, url) {
    const key = hex(digest);
    const entry = { bytes, type };
    this.remember(key, entry);
    if (url) this.urls.set(url, { digest: key, type });
    if (!(await this.database) || bytes.length > this.diskBytes) return;
    // Room first: the least recently used blobs go until this one fits.
    const evicted = [];
    let used = this.diskUsed - (this.disk.get(key)?.size ?? 0);
    for (const [oldest, { size }] of this.disk) {
      if (used + bytes.length <= this.diskBytes) break;
      if (oldest === key) continue;
      evicted.push(oldest);
      used -= size;
    }
    if (evicted.length) await this.drop(evicted);
    const meta = { size: bytes.length, used: Date.now() };
    this.diskUsed += bytes.length - (this.disk.get(key)?.size ?? 0);
    this.disk.delete(key);
    this.disk.set(key, meta);
    await this.transaction(["blobs", "urls", "meta"], "readwrite", (tx) => {
      tx.objectStore("blobs").put(entry, key);
      tx.objectStore("meta").put(meta, key);
      if (url) tx.objectStore("urls").put({ digest: key, type }, url);
    });
  }

  /** Every URL known, for re-announcement. */
  holdings() {
    return [...this.urls].map(([url, { digest }]) => ({ d: fromHex(digest), u: url, n: this.memory.get(digest)?.bytes.length ?? this.disk.get(digest)?.size ?? 0 }));
  }
}
