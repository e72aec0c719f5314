// Village agents (代办员): the list, and a one-time sign-in QR code for an agent to show to a
// kiosk of their site (fleet.village_agents: five minutes, one use).
"use strict";

async function refreshAgents() {
  const { agents } = await call("GET", "/village-agents");
  const body = $("agents").tBodies[0];
  body.replaceChildren();
  for (const a of agents) {
    const state = a.disabled ? "disabled" : a.locked ? "locked (wrong PINs)" : "active";
    const tr = row([a.agent_id, a.site, state, a.assisted, ""]);
    if (!a.disabled) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "Sign-in QR code";
      button.addEventListener("click", () => issueAgentCode(a.agent_id));
      tr.lastChild.appendChild(button);
    }
    body.appendChild(tr);
  }
}

async function issueAgentCode(agentId) {
  $("agents-error").textContent = "";
  try {
    const issued = await call("POST", `/village-agents/${encodeURIComponent(agentId)}/sign-in-code`);
    // The SVG is drawn by this server from the code it just made: no outside text in it.
    $("agent-qr-image").innerHTML = issued.qr_svg;
    $("agent-qr-note").textContent = `${agentId}: show this to the kiosk's scanner before ${when(issued.expires_at)} (one use).`;
    $("agent-qr").hidden = false;
  } catch (err) {
    $("agents-error").textContent = `No code: ${err.message}`;
  }
}
