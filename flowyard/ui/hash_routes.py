"""Kubeflow's frontend routes in the URL's hash (`/#/runs/details/ID`), which is what
`kfp.Client` prints for every run, experiment and pipeline it creates. The hash never reaches
the server, so the index page carries a tiny script that maps it to the dashboard's own path
and replaces the location before anything renders (the back button skips the hop).

The routes are Kubeflow Pipelines' `RoutePage` table (frontend/src/components/Router.tsx)."""

from __future__ import annotations

import json

# (pattern on the hash's path, target with $1.. for the captured ids); the first match wins.
ROUTES: list[tuple[str, str]] = [
    (r"^/runs/details/([^/]+)/execution/[^/]+/?$", "/runs/$1"),
    (r"^/runs/details/([^/]+)/?$", "/runs/$1"),
    (r"^/runs/new/?$", "/pipelines"),
    (r"^/(runs|archive/runs)/?$", "/runs"),
    (r"^/experiments/details/([^/]+)/?$", "/runs?experiment=$1"),
    (r"^/(experiments|experiments/new|archive/experiments)/?$", "/experiments"),
    (r"^/pipelines/details/([^/]+)/version/([^/]+)/?$", "/pipelines/$1?version=$2"),
    (r"^/pipelines/details/([^/]+)/?$", "/pipelines/$1"),
    (r"^/(pipelines|pipelines/details|shared/pipelines|pipeline_versions/new)/?$", "/pipelines"),
    (r"^/recurringrun/details/([^/]+)/?$", "/recurring?selected=$1"),
    (r"^/recurringruns/?$", "/recurring"),
    (r"^/artifacts/([^/]+)/?$", "/artifacts/$1"),
    (r"^/artifacts/?$", "/artifacts"),
    # Flowyard records executions as a run's tasks; their list is the runs list.
    (r"^/executions(/[^/]+)?/?$", "/runs"),
    (r"^/compare/?$", "/compare"),
    (r"^/(start|frontend_features)?/?$", "/"),
]

# Ids are captured from the hash, so each is URL-encoded before it becomes part of a path;
# only paths of this dashboard are ever navigated to (no open redirect).
_SCRIPT = """(function () {
  var h = window.location.hash;
  if (!h || h.charAt(1) !== '/') return;
  var raw = h.slice(1), q = raw.indexOf('?');
  var path = q < 0 ? raw : raw.slice(0, q);
  var query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  var routes = %s;
  for (var i = 0; i < routes.length; i++) {
    var m = path.match(new RegExp(routes[i][0]));
    if (!m) continue;
    var target = routes[i][1].replace(/\\$(\\d)/g, function (_, n) {
      var id = m[+n] || '';
      try { id = decodeURIComponent(id); } catch (e) { /* keep it as written */ }
      return encodeURIComponent(id);
    });
    if (target === '/compare' && query.get('runlist')) {
      target += '?runs=' + query.get('runlist').split(',').map(encodeURIComponent).join(',');
    }
    if (target !== '/') window.location.replace(target);
    else if (h) history.replaceState(null, '', '/');
    return;
  }
})();"""


def script() -> str:
    return "<script>" + _SCRIPT % json.dumps(ROUTES) + "</script>"
