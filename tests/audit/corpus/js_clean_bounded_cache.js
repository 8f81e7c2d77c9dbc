// A Map cache keyed by request data, bounded by evicting the oldest entry.
const MAX = 100;
const cache = new Map();

async function load(key) {
  return { key };
}

exports.handler = async (event) => {
  const key = event.key;
  if (!cache.has(key)) {
    if (cache.size >= MAX) {
      cache.delete(cache.keys().next().value);
    }
    cache.set(key, await load(key));
  }
  return cache.get(key);
};
