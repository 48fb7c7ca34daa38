"""Router CRDs from the providers' own Go modules, installed on the test cluster.

Each module is fetched with `go mod download -json <module>@<pinned version>` into the module cache the cluster
build uses (versions in versions.env). Every failure raises ControlPlaneError naming the step that broke.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import yaml
from lightkube import codecs
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition

from tests import gomodules
from tests.cluster.controlplane import Cluster, ControlPlaneError
from tests.fields import present
from tests.gomodules import pinned_versions


def module_dir(module: str, version: str) -> Path:
    """The unpacked module in the cluster build's Go module cache, downloaded if missing."""
    try:
        return gomodules.module_dir(module, version)
    except gomodules.GoModuleError as err:
        raise ControlPlaneError(f"CRD STEP FAILED: {err}") from err


def crd_documents(paths: list[Path]) -> list[dict[str, Any]]:
    """The CustomResourceDefinitions in these YAML files (other kinds, such as admission policies, are skipped)."""
    docs = []
    for path in paths:
        if not path.is_file():
            raise ControlPlaneError(f"CRD STEP FAILED: read {path}: no such file")
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d and d.get("kind") == "CustomResourceDefinition"]
    if not docs:
        raise ControlPlaneError(f"CRD STEP FAILED: read {paths}: no CustomResourceDefinition found")
    return docs


def apply_crds(cluster: Cluster, docs: list[dict[str, Any]], timeout: float = 60.0) -> list[str]:
    """Server-side apply each CRD and wait until it is Established."""
    client = cluster.client()
    names = []
    for doc in docs:
        name = doc["metadata"]["name"]
        try:
            client.apply(codecs.from_dict(doc), field_manager="serinus-tests", force=True)
        except Exception as err:
            raise ControlPlaneError(f"CRD STEP FAILED: apply {name}: {err}") from err
        names.append(name)
    deadline = time.monotonic() + timeout
    for name in names:
        while not any(
            c.type == "Established" and c.status == "True"
            for c in (present(client.get(CustomResourceDefinition, name).status).conditions or [])
        ):
            if time.monotonic() > deadline:
                raise ControlPlaneError(f"CRD STEP FAILED: wait for {name} Established after {timeout:.0f}s")
            time.sleep(0.2)
    return names


def install_istio(cluster: Cluster) -> list[str]:
    """Istio's CRDs from `istio.io/api` (kubernetes/customresourcedefinitions.gen.yaml)."""
    root = module_dir("istio.io/api", "v" + pinned_versions()["ISTIO_API_VERSION"])
    return apply_crds(cluster, crd_documents([root / "kubernetes" / "customresourcedefinitions.gen.yaml"]))


def install_gateway_api(cluster: Cluster) -> list[str]:
    """Gateway API's standard-channel CRDs from `sigs.k8s.io/gateway-api` (config/crd/standard/*.yaml; HTTPRoute
    v1 with CORS and timeouts, and v1beta1, are all in the standard channel of the pinned release)."""
    root = module_dir("sigs.k8s.io/gateway-api", "v" + pinned_versions()["GATEWAY_API_VERSION"])
    return apply_crds(cluster, crd_documents(sorted((root / "config" / "crd" / "standard").glob("*.yaml"))))


def install_keda(cluster: Cluster) -> list[str]:
    """KEDA's ScaledObject CRD from `github.com/kedacore/keda/v2` (config/crd/bases)."""
    root = module_dir("github.com/kedacore/keda/v2", "v" + pinned_versions()["KEDA_VERSION"])
    return apply_crds(cluster, crd_documents([root / "config" / "crd" / "bases" / "keda.sh_scaledobjects.yaml"]))


def install_traefik(cluster: Cluster) -> list[str]:
    """Traefik's CRDs from `github.com/traefik/traefik/v3` (the v1 CRD definitions in its docs)."""
    root = module_dir("github.com/traefik/traefik/v3", "v" + pinned_versions()["TRAEFIK_VERSION"])
    return apply_crds(
        cluster,
        crd_documents(
            [root / "docs" / "content" / "reference" / "dynamic-configuration" / "kubernetes-crd-definition-v1.yml"]
        ),
    )


def install_contour(cluster: Cluster) -> list[str]:
    """Contour's CRDs from `github.com/projectcontour/contour` (examples/contour/01-crds.yaml)."""
    root = module_dir("github.com/projectcontour/contour", "v" + pinned_versions()["CONTOUR_VERSION"])
    return apply_crds(cluster, crd_documents([root / "examples" / "contour" / "01-crds.yaml"]))


def smi_crd(source: dict[str, Any]) -> dict[str, Any]:
    """SMI's TrafficSplit CRD converted from apiextensions v1beta1 to v1, every version served.

    The schema is the module's; v1alpha1 backends' weights are Kubernetes quantities (Flagger writes them as
    strings, as Linkerd's own CRD accepts), so that version's weight is int-or-string."""
    spec = source["spec"]
    schema = {"type": "object", **spec["validation"]["openAPIV3Schema"]}
    columns = [
        {"name": c["name"], "type": c["type"], "description": c.get("description", ""), "jsonPath": c["JSONPath"]}
        for c in spec.get("additionalPrinterColumns") or []
    ]
    versions = []
    for version in spec["versions"]:
        own = copy.deepcopy(schema)
        if version["name"] == "v1alpha1":
            backend = own["properties"]["spec"]["properties"]["backends"]["items"]["properties"]
            backend["weight"] = {
                "x-kubernetes-int-or-string": True,
                "description": backend["weight"].get("description", ""),
            }
        versions.append(
            {
                "name": version["name"],
                "served": True,
                "storage": version["name"] == spec["version"],
                "schema": {"openAPIV3Schema": own},
                "additionalPrinterColumns": columns,
            }
        )
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": source["metadata"]["name"]},
        "spec": {"group": spec["group"], "scope": spec["scope"], "names": spec["names"], "versions": versions},
    }


def install_smi(cluster: Cluster) -> list[str]:
    """SMI's TrafficSplit CRD from `github.com/servicemeshinterface/smi-sdk-go` (crds/split.yaml), as v1."""
    root = module_dir("github.com/servicemeshinterface/smi-sdk-go", "v" + pinned_versions()["SMI_SDK_VERSION"])
    path = root / "crds" / "split.yaml"
    if not path.is_file():
        raise ControlPlaneError(f"CRD STEP FAILED: read {path}: no such file")
    sources = [d for d in yaml.safe_load_all(path.read_text()) if d and d.get("kind") == "CustomResourceDefinition"]
    return apply_crds(cluster, [smi_crd(d) for d in sources])


#: Kuma's, APISIX's and Gloo's CRDs, written by hand (see the file's header for why)
HANDWRITTEN = Path(__file__).parent / "routers" / "handwritten-crds.yaml"


def install_handwritten(cluster: Cluster) -> list[str]:
    """Kuma's TrafficRoute, APISIX's ApisixRoute and Gloo's RouteTable and Upstream."""
    return apply_crds(cluster, crd_documents([HANDWRITTEN]))


def install_knative(cluster: Cluster) -> list[str]:
    """Knative Serving's Service and Revision CRDs from `knative.dev/serving` (config/core/300-resources)."""
    root = module_dir("knative.dev/serving", "v" + pinned_versions()["KNATIVE_SERVING_VERSION"])
    resources = root / "config" / "core" / "300-resources"
    return apply_crds(cluster, crd_documents([resources / "service.yaml", resources / "revision.yaml"]))
