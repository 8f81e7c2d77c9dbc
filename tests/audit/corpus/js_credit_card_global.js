// The payment handler with the card kept in a module-level variable.
var payments = require('payments');
var creditCard;

exports.handler = function (event, context) {
  creditCard = {
    number: event.credit_card_number,
    exp: event.credit_card_expiration,
    code: event.credit_card_security_code,
  };
  payments.verify(creditCard, function (err) {
    if (err) {
      return context.fail('Invalid card');
    }
    context.succeed('verified');
  });
};
