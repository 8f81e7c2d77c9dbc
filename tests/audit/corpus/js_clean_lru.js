// lru-cache with a max size: bounded.
const { LRUCache } = require('lru-cache');

const profiles = new LRUCache({ max: 500 });

async function fetchProfile(id) {
  return { id };
}

exports.handler = async (event) => {
  const id = event.pathParameters.id;
  let profile = profiles.get(id);
  if (!profile) {
    profile = await fetchProfile(id);
    profiles.set(id, profile);
  }
  return profile;
};
