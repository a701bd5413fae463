#!/usr/bin/env python3
"""Numbat's Libcloud bridge: any Apache Libcloud compute driver behind one JSON protocol.

Numbat starts one bridge per Libcloud provider and speaks JSON lines over its standard input
and output (docs/orchestration.md, "The Libcloud bridge protocol"):

  request:  {"id": 7, "op": "create_node", "args": {...}}
  answer:   {"id": 7, "ok": {...}}   or   {"id": 7, "error": {"code": "...", "message": "..."}}

The first request must be "hello", naming the driver and its constructor arguments (secrets
travel here, never on the command line). Requests run on a small thread pool and answers may
come back out of order, carrying their id. Libcloud drivers are not thread-safe, so calls into
the driver take turns; only the wait for a new node to run happens outside that turn, so one
slow boot does not hold up the others.
The bridge exits when its standard input closes: when Numbat goes away, so does the bridge.
"""

import json
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

try:
    import libcloud
    from libcloud.compute.providers import get_driver
    from libcloud.compute.types import NodeState
except ImportError as error:  # reported on hello, so Numbat can say what to install
    libcloud = None
    IMPORT_ERROR = str(error)


class BridgeError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class Bridge:
    SECRET_OPTIONS = ("secret", "password", "token", "credential")

    def __init__(self):
        self.driver = None
        self.secrets = []  # never repeated in an answer, whatever a driver's error says
        self.lock = threading.Lock()  # one answer line at a time on stdout
        self.driver_lock = threading.Lock()  # one call into the driver at a time

    # -- operations ---------------------------------------------------------------------------

    def hello(self, args):
        if libcloud is None:
            raise BridgeError("libcloud_missing", "apache-libcloud is not installed for this Python (%s): pip install apache-libcloud" % IMPORT_ERROR)
        name = args.get("driver", "")
        try:
            driver_class = get_driver(name)
        except Exception as error:
            raise BridgeError("unknown_driver", "Libcloud has no compute driver '%s' (%s)" % (name, error))
        positional = args.get("args", [])
        options = args.get("options", {})
        self.secrets = [str(v) for v in positional[1:] if v] + \
            [str(v) for k, v in options.items() if v and any(word in k.lower() for word in self.SECRET_OPTIONS)]
        # The dummy driver takes its "credentials" as the number of nodes it starts with.
        if name == "dummy" and not positional:
            positional = [0]
        try:
            self.driver = driver_class(*positional, **options)
        except Exception as error:
            raise BridgeError("driver_failed", "the %s driver refused its arguments: %s" % (name, error))
        return {
            "libcloud": libcloud.__version__,
            "driver": getattr(self.driver, "name", name),
            "features": sorted(op for op in ("create_security_group", "delete_key_pair", "import_key_pair") if self.supports(op)),
        }

    def supports(self, op):
        if op == "create_security_group":
            return hasattr(self.driver, "ex_create_security_group")
        if op == "delete_key_pair":
            return self.overrides("delete_key_pair")
        if op == "import_key_pair":
            return self.overrides("import_key_pair_from_string")
        return False

    def overrides(self, method):
        """True when the driver implements `method` itself (the base class only raises)."""
        from libcloud.compute.base import NodeDriver
        return getattr(type(self.driver), method, None) is not getattr(NodeDriver, method, None)

    def create_node(self, args):
        with self.driver_lock:
            node = self.start_node(args)
        wait = float(args.get("wait_seconds", 600))
        deadline = time.monotonic() + wait
        while True:
            if node.state == NodeState.RUNNING and (node.public_ips or node.private_ips):
                return self.node_view(node)
            if node.state in (NodeState.TERMINATED, NodeState.ERROR):
                raise BridgeError("node_failed", "node %s ended %s before it ran" % (node.id, node.state))
            if time.monotonic() > deadline:
                raise BridgeError("timeout", "node %s was not running with an address after %.0f s" % (node.id, wait))
            time.sleep(2)
            with self.driver_lock:
                node = self.lookup(node.id) or node

    def start_node(self, args):
        name = args["name"]
        # Idempotent: a node of this name made by an earlier, interrupted request is reused
        # (drivers that keep names; the dummy driver names its nodes itself).
        for node in self.driver.list_nodes():
            if node.name == name and node.state != NodeState.TERMINATED:
                return node
        image = self.find(self.driver.list_images(), args.get("image"), "image")
        size = self.find(self.driver.list_sizes(), args.get("size"), "size")
        extra = {}
        if args.get("key_name") and self.supports("import_key_pair"):
            extra["ex_keyname"] = args["key_name"]
        if args.get("security_group") and self.supports("create_security_group"):
            extra["ex_security_groups"] = self.security_groups_argument(args["security_group"])
        try:
            return self.driver.create_node(name=name, size=size, image=image, **extra)
        except TypeError:
            # A driver that takes none of the extras (the dummy driver takes name, size, image).
            return self.driver.create_node(name=name, size=size, image=image)

    def node(self, args):
        found = self.lookup(args["id"])
        return {"node": self.node_view(found) if found else None}

    def destroy_node(self, args):
        found = self.lookup(args["id"])
        if found is not None:
            self.driver.destroy_node(found)
        return {"destroyed": found is not None}

    def import_key_pair(self, args):
        if not self.supports("import_key_pair"):
            raise BridgeError("not_supported", "the %s driver cannot import key pairs" % self.driver.name)
        self.driver.import_key_pair_from_string(args["name"], args["public_key"])
        return {}

    def delete_key_pair(self, args):
        if not self.supports("delete_key_pair"):
            raise BridgeError("not_supported", "the %s driver cannot delete key pairs" % self.driver.name)
        for pair in self.driver.list_key_pairs():
            if pair.name == args["name"]:
                self.driver.delete_key_pair(pair)
        return {}

    def create_security_group(self, args):
        if not self.supports("create_security_group"):
            raise BridgeError("not_supported", "the %s driver has no security groups" % self.driver.name)
        group = self.driver.ex_create_security_group(args["name"], args.get("description", ""))
        group_id = group.get("group_id") if isinstance(group, dict) else getattr(group, "id", None)
        for rule in args.get("rules", []):
            if hasattr(self.driver, "ex_create_security_group_rule"):  # OpenStack style
                self.driver.ex_create_security_group_rule(group, rule["protocol"], rule["port_from"], rule["port_to"], rule["source"])
            else:  # EC2 style
                self.driver.ex_authorize_security_group_ingress(group_id, rule["port_from"], rule["port_to"], [rule["source"]], rule["protocol"])
        return {"id": str(group_id if group_id is not None else args["name"])}

    def delete_security_group(self, args):
        if hasattr(self.driver, "ex_delete_security_group_by_id"):
            self.driver.ex_delete_security_group_by_id(args["id"])
        elif hasattr(self.driver, "ex_delete_security_group"):
            groups = [g for g in self.driver.ex_list_security_groups() if str(getattr(g, "id", g)) == args["id"]]
            for group in groups:
                self.driver.ex_delete_security_group(group)
        return {}

    def list_images(self, args):
        return [{"id": str(image.id), "name": image.name or str(image.id)} for image in self.driver.list_images()]

    def list_sizes(self, args):
        return [{"id": str(size.id), "name": size.name or str(size.id)} for size in self.driver.list_sizes()]

    # -- helpers ------------------------------------------------------------------------------

    def lookup(self, node_id):
        for node in self.driver.list_nodes():
            if str(node.id) == str(node_id):
                return node
        return None

    @staticmethod
    def find(offers, wanted, what):
        if not offers:
            raise BridgeError("invalid_%s" % what, "the driver offers no %ss" % what)
        if wanted in (None, "", "any"):
            return offers[0]
        for offer in offers:
            if str(offer.id) == str(wanted) or offer.name == wanted:
                return offer
        raise BridgeError("invalid_%s" % what, "no %s '%s'; the driver offers %s" % (what, wanted, ", ".join(str(o.id) for o in offers[:20])))

    def security_groups_argument(self, group_id):
        if hasattr(self.driver, "ex_list_security_groups"):
            groups = [g for g in self.driver.ex_list_security_groups() if str(getattr(g, "id", g)) == group_id]
            if groups:
                return groups
        return [group_id]

    @staticmethod
    def node_view(node):
        return {
            "id": str(node.id),
            "name": node.name,
            "state": str(node.state),
            "public_ips": list(node.public_ips or []),
            "private_ips": list(node.private_ips or []),
        }

    # -- the loop -----------------------------------------------------------------------------

    OPERATIONS = ("hello", "create_node", "node", "destroy_node", "import_key_pair", "delete_key_pair",
                  "create_security_group", "delete_security_group", "list_images", "list_sizes")

    def answer(self, message):
        error = message.get("error")
        if error:
            for secret in self.secrets:
                error["message"] = error["message"].replace(secret, "********")
        line = json.dumps(message, separators=(",", ":"))
        with self.lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def handle(self, request):
        request_id = request.get("id")
        op = request.get("op")
        try:
            if op not in self.OPERATIONS:
                raise BridgeError("unknown_op", "the bridge has no operation '%s'" % op)
            if op != "hello" and self.driver is None:
                raise BridgeError("no_driver", "say hello with a driver first")
            operation = getattr(self, op)
            if op == "create_node":  # takes its turns itself
                result = operation(request.get("args") or {})
            else:
                with self.driver_lock:
                    result = operation(request.get("args") or {})
            self.answer({"id": request_id, "ok": result})
        except BridgeError as error:
            self.answer({"id": request_id, "error": {"code": error.code, "message": error.message}})
        except KeyError as error:
            self.answer({"id": request_id, "error": {"code": "bad_request", "message": "%s needs the argument %s" % (op, error)}})
        except Exception as error:  # a driver's own failure: its words, never a crash of the bridge
            traceback.print_exc(file=sys.stderr)
            self.answer({"id": request_id, "error": {"code": "driver_error", "message": "%s: %s" % (type(error).__name__, error)}})


def main():
    bridge = Bridge()
    pool = ThreadPoolExecutor(max_workers=8)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError("a request is a JSON object")
        except ValueError as error:
            bridge.answer({"id": None, "error": {"code": "bad_json", "message": str(error)}})
            continue
        if request.get("op") == "hello":
            bridge.handle(request)  # before anything else runs against the driver
        else:
            pool.submit(bridge.handle, request)
    pool.shutdown(wait=True)


if __name__ == "__main__":
    main()
