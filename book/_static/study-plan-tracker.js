/* The study plan's progress tracker (chapters/04-study-plan).
 *
 * A page places <div class="micourse-tracker" data-week="N"></div> and loads this file; the
 * tracker for week N is drawn inside it: checkboxes for the core tasks and code deliverables,
 * text boxes for key learnings and blockers, a time log, and a progress bar (ticked boxes out of
 * all boxes). Everything the reader enters is kept in the browser's localStorage under one key,
 * so it survives a reload, and the same week shown on two pages stays in step. Nothing is sent
 * anywhere; the site works offline.
 *
 * The items below are the single list the interactive tracker shows; the downloadable
 * template (study-plan-tracker-template.md, beside this file) lists the same items, and
 * tests/test_plan_tracker.py checks that the two agree. Keep the block between the PLAN-DATA
 * markers strict JSON.
 */
(function () {
  "use strict";

  var PLAN = /* PLAN-DATA */ {
    "1": {
      "title": "Week 1: ML prerequisites and PyTorch fluency",
      "core": [
        ["w1-core-tensors", "Tensors, broadcasting and einops (chapter 1, Foundations)"],
        ["w1-core-dataset", "Write a torch Dataset and batch it with a DataLoader"],
        ["w1-core-train", "Train an MLP with a training loop you wrote yourself"],
        ["w1-core-block", "Understand LayerNorm, attention and the MLP of a transformer block"]
      ],
      "code": [
        ["w1-code-mnist", "MNIST MLP 784-256-10 above 95% test accuracy"],
        ["w1-code-zip", "Batches with zip and preprocessing with list comprehensions"],
        ["w1-code-block", "A transformer block from scratch that passes the checkers"]
      ]
    },
    "2": {
      "title": "Week 2: TransformerLens and mechanistic intuition",
      "core": [
        ["w2-core-tour", "Tour of TransformerLens: hook names, run_with_cache, hooks"],
        ["w2-core-batch", "Padded batches and attention masks"],
        ["w2-core-induction", "Explain what an induction head does and how to detect one"]
      ],
      "code": [
        ["w2-code-mlp", "MLP activations for \"Hello, world!\""],
        ["w2-code-padded", "10 prompts in one padded batch, rearranged to h (b s)"],
        ["w2-code-decorator", "A decorator that logs tensor shapes"],
        ["w2-code-induction", "Induction scores and attention patterns"]
      ]
    },
    "3": {
      "title": "Week 3: replicate a paper (IOI)",
      "core": [
        ["w3-core-read", "Read Wang et al. (2022) and write a one-page summary"],
        ["w3-core-patching", "Understand activation patching: clean, corrupted, metric"],
        ["w3-core-classes", "Name the IOI head classes and what each does"]
      ],
      "code": [
        ["w3-code-generator", "A balanced IOI prompt generator"],
        ["w3-code-logitdiff", "Logit difference positive on at least 90% of prompts"],
        ["w3-code-resid", "Residual-stream patching by layer and position"],
        ["w3-code-heads", "Per-head patching heatmap and head classes by computation"]
      ]
    },
    "4": {
      "title": "Week 4: an open problem",
      "core": [
        ["w4-core-question", "State the question and a falsifiable prediction"],
        ["w4-core-experiment", "Design the ablation and its control"],
        ["w4-core-writeup", "Write the 500-word report"]
      ],
      "code": [
        ["w4-code-wpos", "Extract W_pos and its share of the MLP inputs"],
        ["w4-code-ablate", "Ablate positions at the MLP inputs, metric before and after"],
        ["w4-code-plot", "A figure of the result"]
      ]
    }
  } /* END PLAN-DATA */;

  var STORAGE_KEY = "micourse-study-plan-v1";
  var HOURS_PER_WEEK = 12;

  function load() {
    try {
      return JSON.parse(window.localStorage.getItem(STORAGE_KEY) || "{}") || {};
    } catch (e) {
      return {};
    }
  }

  function save(state) {
    try {
      window.localStorage.setItem(STORAGE_KEY, JSON.stringify(state));
    } catch (e) {
      /* storage full or disabled (private mode): the tracker still works until the reload */
    }
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function checklist(title, items, state, onChange) {
    var box = el("div", { "class": "micourse-tracker-section" });
    box.appendChild(el("h4", {}, title));
    var list = el("ul", {});
    items.forEach(function (item) {
      var li = el("li", {});
      var label = el("label", {});
      var input = el("input", { type: "checkbox", "data-item": item[0] });
      input.checked = !!state[item[0]];
      input.addEventListener("change", function () { onChange(item[0], input.checked); });
      label.appendChild(input);
      label.appendChild(document.createTextNode(" " + item[1]));
      li.appendChild(label);
      list.appendChild(li);
    });
    box.appendChild(list);
    return box;
  }

  function textbox(title, id, placeholder, state, onChange) {
    var box = el("div", { "class": "micourse-tracker-section" });
    box.appendChild(el("h4", {}, title));
    var area = el("textarea", { rows: "3", "data-item": id, placeholder: placeholder });
    area.value = state[id] || "";
    area.addEventListener("input", function () { onChange(id, area.value); });
    box.appendChild(area);
    return box;
  }

  function draw(root) {
    var week = root.getAttribute("data-week");
    var plan = PLAN[week];
    if (!plan) {
      root.textContent = "(tracker: no week " + week + " in the plan)";
      return;
    }
    var state = load();
    root.textContent = "";
    root.classList.add("micourse-tracker-ready");
    root.appendChild(el("h3", {}, plan.title));

    var bar = el("div", { "class": "micourse-tracker-bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100" });
    var fill = el("div", { "class": "micourse-tracker-fill" });
    var label = el("span", { "class": "micourse-tracker-label" });
    bar.appendChild(fill);
    root.appendChild(bar);
    root.appendChild(label);

    var ids = plan.core.concat(plan.code).map(function (item) { return item[0]; });

    function refresh() {
      var s = load();
      var done = ids.filter(function (id) { return !!s[id]; }).length;
      var pct = Math.round((100 * done) / ids.length);
      fill.style.width = pct + "%";
      bar.setAttribute("aria-valuenow", String(pct));
      var hours = parseFloat(s["w" + week + "-hours"]) || 0;
      label.textContent = done + " of " + ids.length + " done (" + pct + "%) · " + hours + " of " + HOURS_PER_WEEK + " hours logged";
    }

    function set(id, value) {
      var s = load();
      if (value === false || value === "") delete s[id];
      else s[id] = value;
      save(s);
      // other trackers for the same week on this page stay in step
      document.querySelectorAll('.micourse-tracker [data-item="' + id + '"]').forEach(function (node) {
        if (node.type === "checkbox") node.checked = !!value;
        else if (node.value !== String(value)) node.value = value;
      });
      refreshAll();
    }

    root.appendChild(checklist("Core tasks", plan.core, state, set));
    root.appendChild(checklist("Code deliverables", plan.code, state, set));
    root.appendChild(textbox("Key learnings", "w" + week + "-learnings", "Three things you can now explain to someone else", state, set));
    root.appendChild(textbox("Blockers", "w" + week + "-blockers", "What stopped you, and what you tried", state, set));

    var log = el("div", { "class": "micourse-tracker-section" });
    log.appendChild(el("h4", {}, "Time log"));
    var hoursId = "w" + week + "-hours";
    var hours = el("input", { type: "number", min: "0", max: "100", step: "0.5", "data-item": hoursId });
    hours.value = state[hoursId] || "";
    hours.addEventListener("input", function () { set(hoursId, hours.value); });
    var logLabel = el("label", {}, "Hours spent this week: ");
    logLabel.appendChild(hours);
    log.appendChild(logLabel);
    log.appendChild(textbox("", "w" + week + "-timelog", "Day by day: date, hours, what you did", state, set).lastChild);
    root.appendChild(log);

    var reset = el("button", { type: "button", "class": "micourse-tracker-reset" }, "Clear week " + week);
    reset.addEventListener("click", function () {
      if (!window.confirm("Clear everything you entered for week " + week + "?")) return;
      var s = load();
      Object.keys(s).forEach(function (k) { if (k.indexOf("w" + week + "-") === 0) delete s[k]; });
      save(s);
      draw(root);
      refreshAll();
    });
    root.appendChild(reset);

    root._refresh = refresh;
    refresh();
  }

  function refreshAll() {
    document.querySelectorAll(".micourse-tracker").forEach(function (root) {
      if (root._refresh) root._refresh();
    });
  }

  var CSS =
    ".micourse-tracker{border:1px solid var(--pst-color-border,#ccc);border-radius:6px;padding:.6rem .9rem;margin:1rem 0}" +
    ".micourse-tracker h3{margin-top:.2rem;font-size:1.1rem}" +
    ".micourse-tracker h4{font-size:.95rem;margin:.7rem 0 .2rem}" +
    ".micourse-tracker ul{list-style:none;padding-left:.2rem;margin:0}" +
    ".micourse-tracker textarea{width:100%;font:inherit;font-size:.9rem}" +
    ".micourse-tracker input[type=number]{width:5rem}" +
    ".micourse-tracker-bar{height:.8rem;background:rgba(111,66,193,.12);border-radius:4px;overflow:hidden}" +
    ".micourse-tracker-fill{height:100%;width:0;background:#6f42c1;transition:width .2s}" +
    ".micourse-tracker-label{font-size:.85rem}" +
    ".micourse-tracker-reset{margin-top:.6rem;font-size:.8rem}";

  function start() {
    if (!document.getElementById("micourse-tracker-css")) {
      var style = el("style", { id: "micourse-tracker-css" });
      style.textContent = CSS;
      document.head.appendChild(style);
    }
    document.querySelectorAll(".micourse-tracker").forEach(draw);
  }

  // another tab changed the tracker: show its state here too
  window.addEventListener("storage", function (event) {
    if (event.key === STORAGE_KEY) document.querySelectorAll(".micourse-tracker").forEach(draw);
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
