"""lightkube resources for Flagger's custom kinds (flagger.app/v1beta1), with their status subresource."""

from __future__ import annotations

from lightkube.generic_resource import create_namespaced_resource

GROUP = "flagger.app"
VERSION = "v1beta1"

Canary = create_namespaced_resource(GROUP, VERSION, "Canary", "canaries")
MetricTemplate = create_namespaced_resource(GROUP, VERSION, "MetricTemplate", "metrictemplates")
AlertProvider = create_namespaced_resource(GROUP, VERSION, "AlertProvider", "alertproviders")
