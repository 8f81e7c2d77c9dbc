// Factory-built handler remembering the previous order in its closure.
function makeHandler() {
  let lastOrder = null;
  return async function handler(event, context) {
    const previous = lastOrder;
    lastOrder = event.order;
    return { previous };
  };
}

exports.handler = makeHandler();
