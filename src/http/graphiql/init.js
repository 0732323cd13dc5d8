// Starts GraphiQL on /graphiql. It is a file, not an inline script, so the page's
// Content-Security-Policy can allow scripts from this origin only.
/* global window, document, setTimeout, clearTimeout, React, ReactDOM, GraphiQL */
(function () {
  'use strict';

  // Written by the server into a data block: the endpoint path and the starting editors.
  var config = JSON.parse(document.getElementById('graphiql-config').textContent);
  var here = window.location;
  // Same origin only, derived from where the page was loaded, so it works behind any host
  // name or proxy and never points the user's key anywhere else.
  var baseFetcher = GraphiQL.createFetcher({
    url: here.origin + config.graphqlPath,
    subscriptionUrl: (here.protocol === 'https:' ? 'wss://' : 'ws://') + here.host + config.graphqlPath,
  });

  /** The Authorization value in the headers editor's JSON; undefined while it does not parse. */
  function authorizationOf(text) {
    var headers;
    try {
      headers = JSON.parse(text || '{}');
    } catch {
      return undefined;
    }
    if (!headers || typeof headers !== 'object') return undefined;
    var found = '';
    Object.keys(headers).forEach(function (name) {
      if (name.toLowerCase() === 'authorization') found = String(headers[name]);
    });
    return found;
  }

  // With no key yet (the placeholder), nothing is sent: the schema waits for a key instead of
  // greeting the user with an error, and a run says what to do rather than "malformed key".
  var NO_KEY_YET =
    'No API key yet: open the Headers tab below and replace <paste your API key> with your ' +
    'key. `npm start` printed an admin key; or create one with npm run apikey -- create --name <label>.';

  function needsKey(headers) {
    var authorization = authorizationOf(JSON.stringify(headers || {}));
    return authorization === '' || /<paste your API key>/.test(authorization || '');
  }

  function keyedFetcher(params, options) {
    if (needsKey(options && options.headers)) {
      if (params && params.operationName === 'IntrospectionQuery') return new Promise(function () {});
      return Promise.resolve({ errors: [{ message: NO_KEY_YET }] });
    }
    return baseFetcher(params, options);
  }

  function App() {
    // GraphiQL loads the schema (for Docs and completion) when the page opens and again only
    // when its fetcher changes. The first load usually happens before a key is pasted, so a
    // new fetcher (same requests) is handed over whenever the Authorization header changes.
    var state = React.useState(function () {
      return function (params, options) {
        return keyedFetcher(params, options);
      };
    });
    var fetcher = state[0];
    var setFetcher = state[1];
    var lastAuthorization = React.useRef(undefined);
    var timer = React.useRef(undefined);

    var onEditHeaders = React.useCallback(function (text) {
      clearTimeout(timer.current);
      // Wait for typing to pause: one schema request per key, not per keystroke.
      timer.current = setTimeout(function () {
        var authorization = authorizationOf(text);
        if (authorization === undefined || authorization === lastAuthorization.current) return;
        lastAuthorization.current = authorization;
        setFetcher(function () {
          return function (params, options) {
            return keyedFetcher(params, options);
          };
        });
      }, 500);
    }, []);

    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: config.defaultQuery,
      defaultHeaders: config.defaultHeaders,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
      defaultEditorToolsVisibility: 'headers',
      onEditHeaders: onEditHeaders,
    });
  }

  ReactDOM.createRoot(document.getElementById('graphiql')).render(React.createElement(App));
})();
