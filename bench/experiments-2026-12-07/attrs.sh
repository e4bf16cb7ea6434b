#!/bin/bash
# The demo's five attributes, refined (default) and closed form alone: estimator vs verdict, on the outputs.
cd "$(dirname "$0")/../.."
for spec in ${ATTRS:-hue:0.6 rotation:-9 size:0.75 roof_height:0.23 wheel_size:0.085}; do
  a=${spec%%:*}; v=${spec##*:}
  W=${OUT:-/tmp}/attr-$a; rm -rf $W $W-cf; cp -r "$DEMO_WS" $W; sed -i "s#$DEMO_WS/#$W/#" $W/ingest/source.json
  rm -rf $W/edits
  .venv/bin/oneedit demo -w $W --set demo.attribute=$a --set demo.value=$v --set runtime.threads=1 > $W.log 2>&1
  cp -r $W $W-cf; sed -i "s#$W/#$W-cf/#" $W-cf/ingest/source.json
  .venv/bin/oneedit rescale -w $W-cf --name demo --set edit.refine.steps=0 --set runtime.threads=1 >> $W.log 2>&1
  .venv/bin/oneedit report -w $W-cf --name demo --set runtime.threads=1 >> $W.log 2>&1
  python3 - <<PY
import json
for tag, w in (("refined", "$W"), ("closed", "$W-cf")):
    m = json.load(open(w + "/edits/demo/metrics.json"))
    print(json.dumps({"attribute": "$a", "value": $v, "run": tag, "estimator_ratio": round(m["attr_after_mae"] / m["attr_before_mae"], 3),
                      "attr_before_mae": m["attr_before_mae"], "attr_after_mae": m["attr_after_mae"],
                      "verdict_ratio": round(m["final_state_ratio"], 3), "landed": m["landed"], "reading": m.get("reading"),
                      "n_landed": m["n_landed"], "n_short": m["n_short"]}))
PY
done
