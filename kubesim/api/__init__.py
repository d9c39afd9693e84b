"""The Kubernetes API object model: objects are plain JSON-like dicts, exactly as stored and served.

Modules:
    quantity    resource.Quantity parsing, canonical formatting and arithmetic
    field       field paths and field.Error values rendered like apimachinery
    meta        object metadata: names, generateName, uids, timestamps, owner references
    labels      label key / value validation
    selectors   label selectors (string and LabelSelector form) and field selectors
    kinds       the registry of served kinds (discovery data)
    defaults    per-kind defaulting, registry create/update preparation
    validation  create / update validation returning field errors
    status      metav1.Status builders and the APIError exception
"""
