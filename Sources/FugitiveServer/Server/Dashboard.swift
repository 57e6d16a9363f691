/// The operator's page at `/dashboard`: no build step, no external resources. It polls
/// `/v1/stats` and `/v1/graph` every second and shows the swarms, the link graph of the
/// largest swarm, bytes delivered peer-to-peer vs from origins over time, and the
/// resources with the most holders.
enum Dashboard {
    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>Fugitive dashboard</title>
        <link rel="icon" href="data:,">
        <style>
          body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
          h1 { font-size: 1.4em; margin: 0 0 .5em; }
          .cards { display: flex; gap: 1em; flex-wrap: wrap; }
          .card { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .6em 1em; min-width: 8em; }
          .card b { display: block; font-size: 1.6em; }
          section { margin-top: 1.2em; }
          table { border-collapse: collapse; background: #fff; }
          td, th { border: 1px solid #ddd; padding: .25em .6em; text-align: right; }
          th:first-child, td:first-child { text-align: left; }
          .row { display: flex; gap: 1.5em; flex-wrap: wrap; align-items: flex-start; }
          canvas, svg { background: #fff; border: 1px solid #ddd; border-radius: 6px; }
          .legend span { display: inline-block; width: 1em; height: .6em; margin: 0 .3em 0 1em; }
          #status { color: #888; }
        </style>
        </head>
        <body>
        <h1>Fugitive <span id="status">connecting…</span></h1>
        <div class="cards">
          <div class="card">peers<b id="peer-count">–</b></div>
          <div class="card">swarms<b id="swarm-count">–</b></div>
          <div class="card">links<b id="link-count">–</b></div>
          <div class="card">resources<b id="resource-count">–</b></div>
          <div class="card">from peers<b id="peer-bytes">–</b></div>
          <div class="card">from origins<b id="origin-bytes">–</b></div>
          <div class="card">offload<b id="offload">–</b></div>
        </div>
        <section class="row">
          <div>
            <div class="legend">bytes delivered over time
              <span style="background:#2a7"></span>peer to peer <span style="background:#c53"></span>from origins</div>
            <canvas id="plot" width="640" height="260" data-points="0"></canvas>
          </div>
          <div>
            <div>links in <span id="graph-swarm">–</span></div>
            <svg id="graph" width="300" height="300" viewBox="-150 -150 300 300"></svg>
          </div>
        </section>
        <section class="row">
          <div><div>swarms</div><table id="swarms"><thead><tr><th>swarm</th><th>peers</th><th>links</th><th>resources</th><th>from peers</th><th>from origins</th></tr></thead><tbody></tbody></table></div>
          <div><div>most held</div><table id="top"><thead><tr><th>resource</th><th>holders</th></tr></thead><tbody></tbody></table></div>
        </section>
        <script type="module">
        // The operator token, when the page was opened as /dashboard?token=…, goes with every poll.
        const token = new URLSearchParams(location.search).get("token");
        const authorised = token ? { headers: { Authorization: "Bearer " + token } } : {};
        const samples = [];
        const $ = (id) => document.getElementById(id);
        const mb = (n) => (n / 1e6).toFixed(1) + " MB";
        function cell(text) { const td = document.createElement("td"); td.textContent = text; return td; }
        function rows(tbody, list) {
          tbody.replaceChildren(...list.map((values) => { const tr = document.createElement("tr"); tr.append(...values.map(cell)); return tr; }));
        }
        function plot() {
          const canvas = $("plot"), g = canvas.getContext("2d");
          g.clearRect(0, 0, canvas.width, canvas.height);
          canvas.dataset.points = String(samples.length);
          if (samples.length < 2) return;
          const t0 = samples[0].t, t1 = samples[samples.length - 1].t;
          const top = Math.max(1, ...samples.map((s) => Math.max(s.peers, s.origin)));
          const x = (t) => 40 + (canvas.width - 50) * (t - t0) / Math.max(1, t1 - t0);
          const y = (v) => canvas.height - 20 - (canvas.height - 30) * v / top;
          g.strokeStyle = "#ccc"; g.beginPath(); g.moveTo(40, 10); g.lineTo(40, canvas.height - 20); g.lineTo(canvas.width - 10, canvas.height - 20); g.stroke();
          g.fillStyle = "#666"; g.fillText(mb(top), 2, 14); g.fillText(((t1 - t0) / 1000).toFixed(0) + " s", canvas.width - 40, canvas.height - 6);
          for (const [key, color] of [["peers", "#2a7"], ["origin", "#c53"]]) {
            g.strokeStyle = color; g.lineWidth = 2; g.beginPath();
            samples.forEach((s, i) => i ? g.lineTo(x(s.t), y(s[key])) : g.moveTo(x(s.t), y(s[key])));
            g.stroke();
          }
        }
        function graph(data) {
          const svg = $("graph"), n = data.peers.length, r = 120, ns = "http://www.w3.org/2000/svg";
          $("graph-swarm").textContent = data.swarm + (data.truncated ? " (first " + n + " peers)" : "");
          const at = new Map(data.peers.map((p, i) => [p, [r * Math.cos(2 * Math.PI * i / n), r * Math.sin(2 * Math.PI * i / n)]]));
          const shapes = [];
          for (const [a, b] of data.links) {
            const l = document.createElementNS(ns, "line"), [x1, y1] = at.get(a), [x2, y2] = at.get(b);
            Object.entries({ x1, y1, x2, y2, stroke: "#89a" }).forEach(([k, v]) => l.setAttribute(k, v)); shapes.push(l);
          }
          for (const [p, [cx, cy]] of at) {
            const c = document.createElementNS(ns, "circle");
            Object.entries({ cx, cy, r: 6, fill: "#2a7" }).forEach(([k, v]) => c.setAttribute(k, v));
            const title = document.createElementNS(ns, "title"); title.textContent = p; c.append(title); shapes.push(c);
          }
          svg.replaceChildren(...shapes);
          rows($("top").tBodies[0], data.topResources.map((r) => [r.url || r.digest, r.holders]));
        }
        async function poll() {
          try {
            const stats = await (await fetch("/v1/stats", authorised)).json();
            $("status").textContent = "live";
            $("peer-count").textContent = stats.peers;
            $("swarm-count").textContent = stats.swarmCount;
            $("link-count").textContent = stats.links;
            $("resource-count").textContent = stats.resources;
            const d = stats.delivery;
            $("peer-bytes").textContent = mb(d.fromPeers);
            $("origin-bytes").textContent = mb(d.fromOrigin);
            $("offload").textContent = d.fromPeers + d.fromOrigin ? (100 * d.fromPeers / (d.fromPeers + d.fromOrigin)).toFixed(1) + " %" : "–";
            samples.push({ t: Date.now(), peers: d.fromPeers, origin: d.fromOrigin });
            if (samples.length > 600) samples.shift();
            plot();
            rows($("swarms").tBodies[0], stats.swarms.map((s) => [s.swarm, s.shape.peers, s.shape.links, s.shape.resources, mb(s.delivery.fromPeers), mb(s.delivery.fromOrigin)]));
            const response = await fetch("/v1/graph", authorised);
            if (response.ok) graph(await response.json());
          } catch (error) {
            $("status").textContent = "server unreachable";
          }
          setTimeout(poll, 1000);
        }
        poll();
        </script>
        </body>
        </html>
        """#
}
