#!/usr/bin/env python3
"""FakeOpenStack: a hand-written fake of the slice of Keystone v3, Nova, Neutron and Glance that
Numbat's OpenStack client uses. It is a fake, not OpenStack: no real OpenStack can run on the
test machine, so this stands in for one, written from the API references (docs.openstack.org:
identity v3, compute v2.1, networking v2.0, image v2). State lives in memory.

  python3 fake_openstack.py [--port 0] [--token-seconds 3600]

prints "listening on PORT" once it serves. GET /_fake/state shows everything it holds, and
POST /_fake/revoke revokes every token (to prove the client renews its token on a 401).
Servers are BUILD when made and ACTIVE from the second look on; their fixed addresses come
from TEST-NET-1 (192.0.2.0/24) and floating ones from TEST-NET-3 (203.0.113.0/24), neither
reachable, like moto's instances.
"""

import argparse
import datetime
import json
import re
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

USER, PASSWORD, PROJECT, DOMAIN = "numbat", "fake-openstack-password", "numbat-project", "Default"
IMAGES = [{"id": "5a1e2b3c-0000-4000-8000-000000000001", "name": "debian-12"}]
FLAVORS = [{"id": "1", "name": "m1.tiny"}, {"id": "2", "name": "m1.small"}]
NETWORKS = [
    {"id": "0b7e0000-0000-4000-8000-00000000000a", "name": "private", "router:external": False},
    {"id": "0b7e0000-0000-4000-8000-00000000000b", "name": "public", "router:external": True},
]


class State:
    def __init__(self, token_seconds):
        self.lock = threading.Lock()
        self.token_seconds = token_seconds
        self.tokens = set()
        self.servers = {}
        self.looks = {}
        self.keypairs = {}
        self.groups = {}
        self.ports = {}
        self.floatingips = {}
        self.next_address = 10
        self.fixed_addresses = []

    def dump(self):
        return {"servers": list(self.servers.values()), "keypairs": list(self.keypairs.values()),
                "security_groups": list(self.groups.values()), "ports": list(self.ports.values()),
                "floatingips": list(self.floatingips.values()), "tokens": len(self.tokens)}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    # -- plumbing --------------------------------------------------------------------------

    def send(self, status, body=None, headers=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def fail(self, status, kind, message):
        self.send(status, {kind: {"message": message, "code": status}})

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return None

    def do_GET(self): self.route("GET")
    def do_POST(self): self.route("POST")
    def do_DELETE(self): self.route("DELETE")

    def route(self, method):
        url = urlparse(self.path)
        path, query = url.path, {k: v[0] for k, v in parse_qs(url.query).items()}
        state = self.server.state
        with state.lock:
            if path == "/v3/auth/tokens" and method == "POST":
                return self.token(state)
            if path == "/v2.0/tokens" and method == "POST":
                return self.token_v2(state)
            if path == "/_fake/state":
                return self.send(200, state.dump())
            if path == "/_fake/revoke":
                state.tokens.clear()
                return self.send(204)
            if self.headers.get("X-Auth-Token") not in state.tokens:
                return self.fail(401, "error", "The request you have made requires authentication.")
            body = self.body() if method == "POST" else {}
            if body is None:
                return self.fail(400, "badRequest", "Malformed request body")
            for pattern, handler in ROUTES:
                match = re.fullmatch(pattern, method + " " + path)
                if match:
                    return handler(self, state, query, body, *match.groups())
            self.fail(404, "itemNotFound", "no route %s %s" % (method, path))

    # -- Keystone ----------------------------------------------------------------------------

    def token(self, state):
        body = self.body() or {}
        try:
            user = body["auth"]["identity"]["password"]["user"]
            project = body["auth"]["scope"]["project"]
        except (KeyError, TypeError):
            return self.fail(400, "error", "Expecting to find auth.identity.password.user and auth.scope.project")
        if (user.get("name"), user.get("password"), user.get("domain", {}).get("name")) != (USER, PASSWORD, DOMAIN) \
                or (project.get("name"), project.get("domain", {}).get("name")) != (PROJECT, DOMAIN):
            return self.fail(401, "error", "The request you have made requires authentication.")
        token, base, expires = self.issue(state)
        catalog = self.catalog(lambda kind, suffix: {"type": kind, "endpoints": [
            {"interface": "internal", "region_id": "RegionOne", "url": "http://10.255.255.1/unreachable"},
            {"interface": "public", "region_id": "RegionOne", "region": "RegionOne", "url": base + suffix}]})
        self.send(201, {"token": {"expires_at": expires.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "catalog": catalog}},
                  {"X-Subject-Token": token})

    def issue(self, state):
        """A new token, the fake's base URL and the token's expiry."""
        token = uuid.uuid4().hex
        state.tokens.add(token)
        base = "http://127.0.0.1:%d" % self.server.server_address[1]
        return token, base, datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=state.token_seconds)

    @staticmethod
    def catalog(service):
        return [service("compute", "/compute/v2.1"), service("network", "/network"), service("image", "/image")]

    def token_v2(self, state):
        """Keystone v2.0 (the seed's HP Cloud and Rackspace): password credentials, the tenant
        optional (Rackspace scopes without one); the catalog's endpoints by region, one region
        unreachable so that a client ignoring service_region fails."""
        body = self.body() or {}
        try:
            credentials = body["auth"]["passwordCredentials"]
        except (KeyError, TypeError):
            return self.fail(400, "badRequest", "Expecting to find auth.passwordCredentials")
        tenant = body["auth"].get("tenantName")
        if (credentials.get("username"), credentials.get("password")) != (USER, PASSWORD) or tenant not in (None, PROJECT):
            return self.fail(401, "unauthorized", "The request you have made requires authentication.")
        token, base, expires = self.issue(state)
        catalog = self.catalog(lambda kind, suffix: {"type": kind, "name": kind, "endpoints": [
            {"region": "OtherRegion", "publicURL": "http://10.255.255.1/unreachable"},
            {"region": "RegionOne", "publicURL": base + suffix}]})
        self.send(200, {"access": {"token": {"id": token, "expires": expires.strftime("%Y-%m-%dT%H:%M:%SZ")},
                                   "serviceCatalog": catalog}})

    # -- Nova --------------------------------------------------------------------------------

    def create_server(self, state, query, body):
        server = body.get("server") or {}
        if not server.get("name"):
            return self.fail(400, "badRequest", "Invalid input for field/attribute server: 'name' is a required property")
        if server.get("imageRef") not in [i["id"] for i in IMAGES]:
            return self.fail(400, "badRequest", "Invalid imageRef provided.")
        if server.get("flavorRef") not in [f["id"] for f in FLAVORS]:
            return self.fail(400, "badRequest", "Invalid flavorRef provided.")
        if server.get("key_name") and server["key_name"] not in state.keypairs:
            return self.fail(400, "badRequest", "Invalid key_name provided.")
        groups = []
        for group in server.get("security_groups", []):
            found = [g for g in state.groups.values() if group.get("name") in (g["id"], g["name"])]
            if not found:
                return self.fail(400, "badRequest", "Security group %s not found for project." % group.get("name"))
            groups.append(found[0]["id"])
        networks = server.get("networks") or [{"uuid": NETWORKS[0]["id"]}]
        if any(n.get("uuid") not in [x["id"] for x in NETWORKS] for n in networks):
            return self.fail(400, "badRequest", "Network could not be found.")
        server_id = str(uuid.uuid4())
        state.next_address += 1
        if state.fixed_addresses:
            # Real hosts the test runs (sshd at loopback addresses), handed out in turn.
            address = state.fixed_addresses[(state.next_address - 1) % len(state.fixed_addresses)]
        else:
            address = "192.0.2.%d" % (state.next_address % 250 + 2)
        port_id = str(uuid.uuid4())
        state.ports[port_id] = {"id": port_id, "device_id": server_id, "network_id": networks[0]["uuid"], "fixed_ip": address}
        state.servers[server_id] = {"id": server_id, "name": server["name"], "status": "BUILD", "key_name": server.get("key_name"),
                                    "image": server["imageRef"], "flavor": server["flavorRef"], "security_groups": groups,
                                    "metadata": server.get("metadata", {}), "fixed_ip": address}
        state.looks[server_id] = 0
        self.send(202, {"server": {"id": server_id, "links": []}})

    def server_view(self, state, server):
        addresses = [{"addr": server["fixed_ip"], "version": 4, "OS-EXT-IPS:type": "fixed"}]
        for floating in state.floatingips.values():
            port = state.ports.get(floating["port_id"] or "")
            if port and port["device_id"] == server["id"]:
                addresses.append({"addr": floating["floating_ip_address"], "version": 4, "OS-EXT-IPS:type": "floating"})
        view = dict(server)
        view["addresses"] = {"private": addresses} if server["status"] == "ACTIVE" else {}
        return view

    def list_servers(self, state, query, body):
        pattern = query.get("name")
        servers = [s for s in state.servers.values() if pattern is None or re.search(pattern, s["name"])]
        self.send(200, {"servers": [{"id": s["id"], "name": s["name"]} for s in servers]})

    def show_server(self, state, query, body, server_id):
        server = state.servers.get(server_id)
        if server is None:
            return self.fail(404, "itemNotFound", "Instance %s could not be found." % server_id)
        state.looks[server_id] += 1
        if state.looks[server_id] >= 2:
            server["status"] = "ACTIVE"
        self.send(200, {"server": self.server_view(state, server)})

    def delete_server(self, state, query, body, server_id):
        if state.servers.pop(server_id, None) is None:
            return self.fail(404, "itemNotFound", "Instance %s could not be found." % server_id)
        for port_id in [p["id"] for p in state.ports.values() if p["device_id"] == server_id]:
            del state.ports[port_id]
            # As in Neutron: the floating IP stays allocated, just unattached.
            for floating in state.floatingips.values():
                if floating["port_id"] == port_id:
                    floating["port_id"] = None
        self.send(204)

    def flavors(self, state, query, body):
        self.send(200, {"flavors": FLAVORS})

    def create_keypair(self, state, query, body):
        pair = body.get("keypair") or {}
        if not pair.get("name") or not pair.get("public_key", "").startswith("ssh-"):
            return self.fail(400, "badRequest", "Keypair data is invalid: failed to generate fingerprint")
        if pair["name"] in state.keypairs:
            return self.fail(409, "conflictingRequest", "Key pair '%s' already exists." % pair["name"])
        state.keypairs[pair["name"]] = {"name": pair["name"], "public_key": pair["public_key"]}
        self.send(200, {"keypair": state.keypairs[pair["name"]]})

    def list_keypairs(self, state, query, body):
        self.send(200, {"keypairs": [{"keypair": k} for k in state.keypairs.values()]})

    def delete_keypair(self, state, query, body, name):
        if state.keypairs.pop(name, None) is None:
            return self.fail(404, "itemNotFound", "Keypair %s not found." % name)
        self.send(202)

    # -- Neutron -----------------------------------------------------------------------------

    def networks(self, state, query, body):
        found = [n for n in NETWORKS if all(str(n.get(k)) == v for k, v in query.items())]
        self.send(200, {"networks": found})

    def create_group(self, state, query, body):
        group = body.get("security_group") or {}
        if not group.get("name"):
            return self.fail(400, "NeutronError", "a security group needs a name")
        group_id = str(uuid.uuid4())
        # Neutron gives every group two egress rules of its own.
        rules = [{"id": str(uuid.uuid4()), "direction": "egress", "ethertype": e, "protocol": None} for e in ("IPv4", "IPv6")]
        state.groups[group_id] = {"id": group_id, "name": group["name"], "description": group.get("description", ""), "security_group_rules": rules}
        self.send(201, {"security_group": state.groups[group_id]})

    def show_group(self, state, query, body, group_id):
        group = state.groups.get(group_id)
        if group is None:
            return self.fail(404, "NeutronError", "Security group %s does not exist" % group_id)
        self.send(200, {"security_group": group})

    def delete_group(self, state, query, body, group_id):
        if group_id not in state.groups:
            return self.fail(404, "NeutronError", "Security group %s does not exist" % group_id)
        if any(group_id in s["security_groups"] for s in state.servers.values()):
            return self.fail(409, "NeutronError", "Security Group %s in use." % group_id)
        del state.groups[group_id]
        self.send(204)

    def create_rule(self, state, query, body):
        rule = body.get("security_group_rule") or {}
        group = state.groups.get(rule.get("security_group_id"))
        if group is None:
            return self.fail(404, "NeutronError", "Security group %s does not exist" % rule.get("security_group_id"))
        if rule.get("protocol") not in ("tcp", "udp", "icmp") or rule.get("direction") != "ingress":
            return self.fail(400, "NeutronError", "bad rule %s" % rule)
        low, high = rule.get("port_range_min"), rule.get("port_range_max")
        if rule["protocol"] != "icmp" and (not isinstance(low, int) or not isinstance(high, int) or low > high):
            return self.fail(400, "NeutronError", "For TCP/UDP protocols, port_range_min must be <= port_range_max")
        made = dict(rule, id=str(uuid.uuid4()))
        group["security_group_rules"].append(made)
        self.send(201, {"security_group_rule": made})

    def ports(self, state, query, body):
        found = [p for p in state.ports.values() if all(str(p.get(k)) == v for k, v in query.items())]
        self.send(200, {"ports": found})

    def floating(self, state, query, body):
        found = [f for f in state.floatingips.values() if all(str(f.get(k)) == v for k, v in query.items())]
        self.send(200, {"floatingips": found})

    def create_floating(self, state, query, body):
        request = body.get("floatingip") or {}
        network = [n for n in NETWORKS if n["id"] == request.get("floating_network_id") and n["router:external"]]
        if not network:
            return self.fail(400, "NeutronError", "Network %s is not a valid external network" % request.get("floating_network_id"))
        if request.get("port_id") and request["port_id"] not in state.ports:
            return self.fail(404, "NeutronError", "Port %s could not be found." % request["port_id"])
        floating_id = str(uuid.uuid4())
        address = "203.0.113.%d" % (len(state.floatingips) % 250 + 2)
        state.floatingips[floating_id] = {"id": floating_id, "floating_ip_address": address, "port_id": request.get("port_id"),
                                          "floating_network_id": request["floating_network_id"]}
        self.send(201, {"floatingip": state.floatingips[floating_id]})

    def delete_floating(self, state, query, body, floating_id):
        if state.floatingips.pop(floating_id, None) is None:
            return self.fail(404, "NeutronError", "Floating IP %s could not be found" % floating_id)
        self.send(204)

    # -- Glance ------------------------------------------------------------------------------

    def images(self, state, query, body):
        self.send(200, {"images": IMAGES})


ROUTES = [
    (r"POST /compute/v2\.1/servers", Handler.create_server),
    (r"GET /compute/v2\.1/servers", Handler.list_servers),
    (r"GET /compute/v2\.1/servers/([^/]+)", Handler.show_server),
    (r"DELETE /compute/v2\.1/servers/([^/]+)", Handler.delete_server),
    (r"GET /compute/v2\.1/flavors", Handler.flavors),
    (r"POST /compute/v2\.1/os-keypairs", Handler.create_keypair),
    (r"GET /compute/v2\.1/os-keypairs", Handler.list_keypairs),
    (r"DELETE /compute/v2\.1/os-keypairs/([^/]+)", Handler.delete_keypair),
    (r"GET /network/v2\.0/networks", Handler.networks),
    (r"POST /network/v2\.0/security-groups", Handler.create_group),
    (r"GET /network/v2\.0/security-groups/([^/]+)", Handler.show_group),
    (r"DELETE /network/v2\.0/security-groups/([^/]+)", Handler.delete_group),
    (r"POST /network/v2\.0/security-group-rules", Handler.create_rule),
    (r"GET /network/v2\.0/ports", Handler.ports),
    (r"GET /network/v2\.0/floatingips", Handler.floating),
    (r"POST /network/v2\.0/floatingips", Handler.create_floating),
    (r"DELETE /network/v2\.0/floatingips/([^/]+)", Handler.delete_floating),
    (r"GET /image/v2/images", Handler.images),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token-seconds", type=int, default=3600)
    parser.add_argument("--fixed-addresses", default="", help="comma-separated addresses new servers get, in turn")
    options = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", options.port), Handler)
    server.daemon_threads = True
    server.state = State(options.token_seconds)
    server.state.fixed_addresses = [a for a in options.fixed_addresses.split(",") if a]
    print("listening on %d" % server.server_address[1], flush=True)
    # Exit with the test: when its pipe to us closes.
    threading.Thread(target=lambda: (sys.stdin.read(), server.shutdown()), daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
