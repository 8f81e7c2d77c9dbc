'use strict';
/**
 * The Runtime API 2018-06-01 client, on Node's built-in http module (one keep-alive socket).
 *
 * Why not aws-lambda-ric's native client: keepwarm ships no npm dependency. The free socket of a
 * keep-alive agent is unref'd by Node, so between a /next answer and the next post nothing of
 * the runtime keeps the event loop alive: `beforeExit` still tells when the handler's own work
 * has drained (callbackWaitsForEmptyEventLoop).
 */

const http = require('http');
const { toRapidResponse } = require('./errors.js');

const ERROR_TYPE_HEADER = 'Lambda-Runtime-Function-Error-Type';

function headerSafe(value) {
  return String(value).replace(/[^\t\x20-\x7e]/g, '');
}

function serialize(body) {
  try {
    return JSON.stringify(body === undefined ? null : body);
  } catch (_err) {
    throw new Error('Unable to stringify response body');
  }
}

class RapidClient {
  constructor(hostPort) {
    const [hostname, port] = hostPort.split(':');
    this.hostname = hostname;
    this.port = parseInt(port, 10);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  _request(method, path, body, headers, onDone) {
    const options = {
      hostname: this.hostname,
      port: this.port,
      path: '/2018-06-01/runtime' + path,
      method,
      agent: this.agent,
      headers: headers || {},
    };
    const request = http.request(options, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () => onDone(response, Buffer.concat(chunks)));
    });
    // The endpoint only goes away with the environment: leave without a word.
    request.on('error', () => process.exit(0));
    request.end(body);
  }

  _post(path, bodyString, headers, callback) {
    const all = Object.assign(
      {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(bodyString),
      },
      headers,
    );
    this._request('POST', path, bodyString, all, () => callback && callback());
  }

  /** Resolves to {bodyJson, headers} once an event is there (no timeout: contract §2.1). */
  nextInvocation() {
    return new Promise((resolve) => {
      this._request('GET', '/invocation/next', undefined, {}, (response, body) => {
        resolve({ bodyJson: body.toString('utf8'), headers: response.headers });
      });
    });
  }

  postInvocationResponse(result, id, callback) {
    const body = serialize(result); // throws synchronously, as aws-lambda-ric does
    this._post(`/invocation/${encodeURIComponent(id)}/response`, body, {}, callback);
  }

  /** A response that is already bytes with a content type of its own (a streamed body). */
  postRawResponse(body, contentType, id, callback) {
    const headers = { 'Content-Type': contentType, 'Content-Length': body.length };
    const path = `/invocation/${encodeURIComponent(id)}/response`;
    this._request('POST', path, body, headers, () => callback && callback());
  }

  postInvocationError(error, id, callback) {
    const response = toRapidResponse(error);
    const headers = { [ERROR_TYPE_HEADER]: headerSafe(response.errorType) };
    this._post(`/invocation/${encodeURIComponent(id)}/error`, serialize(response), headers, callback);
  }

  postInitError(error, callback) {
    const response = toRapidResponse(error);
    const headers = { [ERROR_TYPE_HEADER]: headerSafe(response.errorType) };
    this._post('/init/error', serialize(response), headers, callback);
  }
}

module.exports = { RapidClient };
