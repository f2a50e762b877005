// SPDX-License-Identifier: Apache-2.0
// Avahi client: one entry group with every service, re-registered when the daemon restarts.
#include "server/mdns/announcer.hpp"

#include <avahi-client/client.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/thread-watch.h>
#include <spdlog/spdlog.h>

#include <stdexcept>

namespace turnpike::server::mdns {

struct announcer::state {
  std::string name;
  std::vector<service> services;
  AvahiThreadedPoll* poll = nullptr;
  AvahiClient* client = nullptr;
  AvahiEntryGroup* group = nullptr;
  bool waiting_logged = false;
};

namespace {

using state = announcer::state;

void client_callback(AvahiClient* c, AvahiClientState s, void* userdata);

void rename(state& st) {
  char* next = avahi_alternative_service_name(st.name.c_str());
  spdlog::warn("mdns: the name '{}' is taken on this network, announcing as '{}'", st.name, next);
  st.name = next;
  avahi_free(next);
}

void group_callback(AvahiEntryGroup* g, AvahiEntryGroupState s, void* userdata);

void register_services(state& st, AvahiClient* c) {
  if (st.group == nullptr) {
    st.group = avahi_entry_group_new(c, group_callback, &st);
    if (st.group == nullptr) {
      spdlog::warn("mdns: cannot create an entry group: {}", avahi_strerror(avahi_client_errno(c)));
      return;
    }
  } else {
    avahi_entry_group_reset(st.group);
  }
  for (int attempt = 0; attempt < 20; ++attempt) {
    int rc = 0;
    for (const auto& s : st.services) {
      AvahiStringList* txt = nullptr;
      for (const auto& t : s.txt) txt = avahi_string_list_add(txt, t.c_str());
      rc = avahi_entry_group_add_service_strlst(st.group, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC,
                                                AvahiPublishFlags(0), st.name.c_str(),
                                                s.type.c_str(), nullptr, nullptr, s.port, txt);
      avahi_string_list_free(txt);
      if (rc < 0) break;
    }
    if (rc == AVAHI_ERR_COLLISION) {
      rename(st);
      avahi_entry_group_reset(st.group);
      continue;
    }
    if (rc < 0) {
      spdlog::warn("mdns: cannot add a service: {}", avahi_strerror(rc));
      return;
    }
    rc = avahi_entry_group_commit(st.group);
    if (rc < 0) spdlog::warn("mdns: cannot announce: {}", avahi_strerror(rc));
    return;
  }
}

void group_callback(AvahiEntryGroup* g, AvahiEntryGroupState s, void* userdata) {
  auto& st = *static_cast<state*>(userdata);
  switch (s) {
    case AVAHI_ENTRY_GROUP_ESTABLISHED:
      spdlog::info("mdns: announcing '{}' ({} services) on the local network", st.name,
                   st.services.size());
      break;
    case AVAHI_ENTRY_GROUP_COLLISION:
      rename(st);
      register_services(st, avahi_entry_group_get_client(g));
      break;
    case AVAHI_ENTRY_GROUP_FAILURE:
      spdlog::warn("mdns: announcement failed: {}",
                   avahi_strerror(avahi_client_errno(avahi_entry_group_get_client(g))));
      break;
    default:
      break;
  }
}

// The daemon went away: a new client waits for it to come back (NO_FAIL).
void reconnect(AvahiTimeout* t, void* userdata) {
  auto& st = *static_cast<state*>(userdata);
  avahi_threaded_poll_get(st.poll)->timeout_free(t);
  if (st.client != nullptr) avahi_client_free(st.client);  // frees the entry group too
  st.client = nullptr;
  st.group = nullptr;
  int error = 0;
  st.client = avahi_client_new(avahi_threaded_poll_get(st.poll), AVAHI_CLIENT_NO_FAIL,
                               client_callback, &st, &error);
  if (st.client == nullptr) spdlog::warn("mdns: {}", avahi_strerror(error));
}

void client_callback(AvahiClient* c, AvahiClientState s, void* userdata) {
  auto& st = *static_cast<state*>(userdata);
  switch (s) {
    case AVAHI_CLIENT_S_RUNNING:
      st.waiting_logged = false;
      register_services(st, c);
      break;
    case AVAHI_CLIENT_S_COLLISION:
    case AVAHI_CLIENT_S_REGISTERING:
      // The host name changes: announce again once the daemon is running.
      if (st.group != nullptr) avahi_entry_group_reset(st.group);
      break;
    case AVAHI_CLIENT_CONNECTING:
      if (!st.waiting_logged) {
        spdlog::warn("mdns: avahi-daemon is not running; announcing once it starts");
        st.waiting_logged = true;
      }
      break;
    case AVAHI_CLIENT_FAILURE:
      if (avahi_client_errno(c) == AVAHI_ERR_DISCONNECTED) {
        spdlog::warn("mdns: avahi-daemon went away; announcing again once it is back");
        st.waiting_logged = true;
        const AvahiPoll* api = avahi_threaded_poll_get(st.poll);
        timeval now{};
        api->timeout_new(api, &now, reconnect, &st);  // not from inside the client's callback
      } else {
        spdlog::warn("mdns: {}", avahi_strerror(avahi_client_errno(c)));
      }
      break;
  }
}

}  // namespace

announcer::announcer(std::string name, std::vector<service> services)
    : state_(std::make_unique<state>()) {
  // A DNS label is at most 63 bytes.
  if (name.size() > 63) name.resize(63);
  state_->name = std::move(name);
  state_->services = std::move(services);
  state_->poll = avahi_threaded_poll_new();
  if (state_->poll == nullptr) throw std::runtime_error("mdns: cannot start Avahi's event loop");
  int error = 0;
  state_->client = avahi_client_new(avahi_threaded_poll_get(state_->poll), AVAHI_CLIENT_NO_FAIL,
                                    client_callback, state_.get(), &error);
  if (state_->client == nullptr) {
    avahi_threaded_poll_free(state_->poll);
    throw std::runtime_error(std::string("mdns: ") + avahi_strerror(error));
  }
  avahi_threaded_poll_start(state_->poll);
}

announcer::~announcer() {
  avahi_threaded_poll_stop(state_->poll);
  if (state_->client != nullptr) avahi_client_free(state_->client);
  avahi_threaded_poll_free(state_->poll);
}

}  // namespace turnpike::server::mdns
